import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

export interface ApiDomainProps {
  readonly domainName: string;
  readonly api: apigw.IHttpApi;
  readonly stage: apigw.IStage;
  /** An ACM certificate for domainName in the stack's region, or a hosted zone to create one in (DNS-validated). */
  readonly certificateArn?: string;
  readonly hostedZone?: { id: string; name: string };
}

/**
 * The API on its own name: a regional API Gateway domain name, mapped to the stage (base path
 * none, so the routes keep their /v1 paths and the page its `/`), and an alias record when the
 * zone is ours. The page takes its API base from its own origin, so it follows without a change.
 */
export class ApiDomain extends Construct {
  readonly domain: apigw.DomainName;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ApiDomainProps) {
    super(scope, id);
    const zone = props.hostedZone
      ? route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.hostedZone.id, zoneName: props.hostedZone.name })
      : undefined;
    const certificate = props.certificateArn
      ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn)
      : new acm.Certificate(this, 'Certificate', { domainName: props.domainName, validation: acm.CertificateValidation.fromDns(zone) });
    this.domain = new apigw.DomainName(this, 'Domain', {
      domainName: props.domainName,
      certificate,
      securityPolicy: apigw.SecurityPolicy.TLS_1_2,
    });
    new apigw.ApiMapping(this, 'StageMapping', { api: props.api, domainName: this.domain, stage: props.stage });
    if (zone) {
      new route53.ARecord(this, 'Alias', {
        zone,
        recordName: props.domainName,
        target: route53.RecordTarget.fromAlias(
          new targets.ApiGatewayv2DomainProperties(this.domain.regionalDomainName, this.domain.regionalHostedZoneId),
        ),
      });
    }
    this.url = `https://${props.domainName}/`;
  }
}
