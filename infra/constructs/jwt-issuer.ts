import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export interface JwtIssuerProps {
  /** An existing issuer and audience (any OIDC provider); without them a Cognito user pool and app client are created. */
  readonly issuer?: string;
  readonly audience?: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Who signs the JWTs the API accepts (context auth=jwt|both): the issuer given, or a Cognito user
 * pool made here with one app client (no secret: a browser or mobile app signs users in with it).
 */
export class JwtIssuer extends Construct {
  readonly issuer: string;
  readonly audience: string;
  readonly userPool?: cognito.UserPool;
  readonly client?: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: JwtIssuerProps) {
    super(scope, id);
    if (props.issuer && props.audience) {
      this.issuer = props.issuer;
      this.audience = props.audience;
      return;
    }
    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      removalPolicy: props.removalPolicy,
    });
    this.client = this.userPool.addClient('App', {
      generateSecret: false,
      authFlows: { userSrp: true },
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
    });
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.audience = this.client.userPoolClientId;
    acknowledge(
      this.userPool,
      'AwsSolutions-COG2',
      'MFA is optional, with TOTP offered: the pool signs in the users of client apps, which choose whether to require a second factor.',
    );
  }
}
