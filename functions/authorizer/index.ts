import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { type AuthContext, authenticate } from '#shared/auth/authenticate.ts';

/**
 * The HTTP API's Lambda authorizer. It always authorizes and says who the caller is (owner,
 * principal and plan), or why not, in the context: API Gateway would answer a refusal itself with
 * `{"message":"Forbidden"}`, while the API function answers 401 in the API's own error shape
 * (functions/api/http.ts). With AUTH_MODE=both it accepts a Bearer JWT as well as an x-api-key:
 * an HTTP API route takes one authorizer, so this one verifies both.
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthContext>> {
  const context = await authenticate({ apiKey: event.headers?.['x-api-key'], authorization: event.headers?.authorization });
  return { isAuthorized: true, context };
}
