import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ROUTES, CORS_POLICY, routeKey } from '../../functions/api/routes.ts';
import { acknowledge } from './nag.ts';

export interface PipelineHttpApiProps {
  readonly apiFunction: IFunction;
  readonly authorizerFunction: IFunction;
  readonly allowedOrigins: string[];
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /**
   * With `jwt`, API Gateway's own JWT authorizer guards the routes (it answers a bad token 401
   * `{"message":"Unauthorized"}` itself); with `apiKey` or `both`, the Lambda authorizer, which in
   * `both` verifies a Bearer JWT too (a route takes one authorizer).
   */
  readonly auth: 'apiKey' | 'jwt' | 'both';
  readonly jwt?: { issuer: string; audience: string };
}

/**
 * The HTTP API. Its Lambda authorizer has no identity source and no gateway cache on purpose:
 * with an identity source, API Gateway itself answers a request without `x-api-key` with
 * `{"message":"Unauthorized"}`, not the API's `{"error":{code,message}}`. So the authorizer runs
 * on every request, always allows, and passes `ownerId` (or `authError`) to the API function,
 * which answers 401 in the API's shape; the authorizer caches key lookups in memory instead.
 */
export class PipelineHttpApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineHttpApiProps) {
    super(scope, id);
    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-api`,
      description: 'Asynchronous image inference: submit jobs, upload to S3, poll for results.',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.allowedOrigins,
        allowMethods: CORS_POLICY.allowMethods.map((m) => apigw.CorsHttpMethod[m]),
        allowHeaders: [...CORS_POLICY.allowHeaders],
        exposeHeaders: [...CORS_POLICY.exposeHeaders],
        maxAge: Duration.seconds(CORS_POLICY.maxAgeSeconds),
      },
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integration = new HttpLambdaIntegration('ApiIntegration', props.apiFunction);
    if (props.auth === 'jwt' && !props.jwt) throw new Error('auth=jwt needs an issuer and audience');
    const authorizer =
      props.auth === 'jwt' && props.jwt
        ? new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, { authorizerName: 'jwt', jwtAudience: [props.jwt.audience] })
        : new HttpLambdaAuthorizer('ApiKeyAuthorizer', props.authorizerFunction, {
            authorizerName: props.auth === 'both' ? 'api-key-or-jwt' : 'api-key',
            responseTypes: [HttpLambdaResponseType.SIMPLE],
            identitySource: [],
            resultsCacheTtl: Duration.seconds(0),
          });
    // The routes of shared/api/gateway.ts, all to the API function; all but the public ones behind the authorizer.
    const routes = API_ROUTES.map((route) => {
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
        ...(route.authenticated ? { authorizer } : {}),
      });
      return { route, created: created! };
    });
    const publicRoutes = routes.filter((r) => !r.route.authenticated);

    // CDK renders the empty identity source as `IdentitySource: []`; leave the property out, as
    // API Gateway documents for a REQUEST authorizer with caching disabled.
    const cfnAuthorizer = this.api.node
      .findAll()
      .find((c): c is apigw.CfnAuthorizer => c instanceof apigw.CfnAuthorizer && c.authorizerType === 'REQUEST');
    cfnAuthorizer?.addPropertyDeletionOverride('IdentitySource');

    for (const { route, created } of publicRoutes) {
      acknowledge(created, 'AwsSolutions-APIG4', PUBLIC_ROUTE_REASONS[routeKey(route) as PublicRouteKey]);
    }
  }

  /** The invoke URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/ */
  get url(): string {
    return this.stage.url;
  }
}

type PublicRoute = Extract<(typeof API_ROUTES)[number], { authenticated: false }>;
type PublicRouteKey = PublicRoute extends infer R ? (R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never) : never;

/**
 * Why each route without an authorizer may be public (cdk-nag APIG4). Keyed by every public route
 * of API_ROUTES, so a new public route does not compile until someone says why it needs no key.
 */
const PUBLIC_ROUTE_REASONS: Record<PublicRouteKey, string> = {
  'GET /': 'GET / is the web page (DESIGN.md: no auth), a static file bundled with the function; it reads no data, and the page calls the other routes with the visitor’s own key.',
  'GET /v1/health': 'GET /v1/health is the unauthenticated liveness check (DESIGN.md); it reads no data.',
  'GET /v1/openapi.json': 'GET /v1/openapi.json is the OpenAPI description clients need before they hold a key (DESIGN.md: no auth); it is generated from the schemas and reads no data.',
};

/** One JSON object per request in the access log. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integration.latency',
  integrationStatus: '$context.integration.status',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  ownerId: '$context.authorizer.ownerId',
  errorMessage: '$context.error.message',
};
