import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { type AuthContext, authenticate } from '#shared/auth/authenticate.ts';

/**
 * The HTTP API's Lambda authorizer. It always authorizes and says who the caller is, or why not,
 * in the context: API Gateway would answer a refusal itself with `{"message":"Forbidden"}`, while
 * the API function answers 401 in the API's own error shape (functions/api/http.ts).
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthContext>> {
  return { isAuthorized: true, context: await authenticate(event.headers?.['x-api-key']) };
}
