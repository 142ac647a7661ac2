import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../infra/settings.ts';
import { synthesize, unacknowledgedFindings } from './synth.ts';

/** Access on AWS: context auth=apiKey|jwt|both, and a custom domain. */

const CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0b5b8e5e-1111-2222-3333-444455556666';

const environment = (vars: Record<string, unknown>) => ({ Environment: { Variables: Match.objectLike(vars) } });

describe('auth=apiKey (the default)', () => {
  const { template } = synthesize();

  it('guards the routes with the Lambda authorizer only, and creates no user pool', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'REQUEST', Name: 'api-key' });
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.hasResourceProperties('AWS::Lambda::Function', environment({ AUTH_MODE: 'apiKey' }));
  });
});

describe('auth=jwt', () => {
  it('creates a Cognito user pool and app client, and a JWT authorizer with their issuer and audience', () => {
    const { app, template } = synthesize({ auth: 'jwt' });
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', { GenerateSecret: false });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: Match.stringLikeRegexp('JwtIssuerUsersApp') }],
        Issuer: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('cognito-idp')])] },
      },
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  it("uses a given issuer and audience and creates no pool", () => {
    const { template } = synthesize({ auth: 'jwt', jwtIssuer: 'https://login.example.com/', jwtAudience: 'inference-api' });
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: ['inference-api'], Issuer: 'https://login.example.com/' },
    });
  });
});

describe('auth=both', () => {
  it('keeps the one Lambda authorizer per route and gives it the issuer to verify Bearer tokens against', () => {
    const { app, template } = synthesize({ auth: 'both' });
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'REQUEST', Name: 'api-key-or-jwt' });
    template.hasResourceProperties(
      'AWS::Lambda::Function',
      environment({ AUTH_MODE: 'both', JWT_ISSUER: Match.anyValue(), JWT_AUDIENCE: Match.anyValue() }),
    );
    expect(unacknowledgedFindings(app)).toEqual([]);
  });
});

describe('custom domain', () => {
  it('maps the stage on a domain name with the given certificate, and the API URL follows', () => {
    const { app, template } = synthesize({ domainName: 'api.example.com', certificateArn: CERTIFICATE_ARN, allowedOrigins: 'https://app.example' });
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.example.com',
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: CERTIFICATE_ARN, SecurityPolicy: 'TLS_1_2' })],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { Stage: Match.anyValue(), DomainName: Match.anyValue() });
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.hasOutput('ApiUrl', { Value: 'https://api.example.com/' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedOrigins: ['https://app.example', 'https://api.example.com'] })] },
    });
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  it('creates a DNS-validated certificate and an alias record in a given zone', () => {
    const { app, template } = synthesize({ domainName: 'api.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' });
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'api.example.com', ValidationMethod: 'DNS' });
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'api.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      AliasTarget: Match.objectLike({ DNSName: Match.anyValue() }),
    });
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  it('refuses a domain without a certificate or zone, and half a zone', () => {
    expect(() => parseSettings({ domainName: 'api.example.com' })).toThrow(/domainName needs certificateArn/);
    expect(() => parseSettings({ domainName: 'api.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' })).toThrow(/hostedZoneName/);
    expect(() => parseSettings({ auth: 'jwt', jwtIssuer: 'https://login.example.com/' })).toThrow(/jwtAudience/);
    expect(() => parseSettings({ auth: 'cookies' })).toThrow(/auth/);
  });
});
