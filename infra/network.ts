/**
 * GatehouseNetwork — the function inside your VPC, for clusters whose API endpoint is private
 * (or public but restricted by CIDR to the VPC's NAT addresses):
 *
 * - the function's ENIs go in the given subnets (private ones), with the given security group
 *   or one the stack creates (all egress, no ingress: nothing connects to a Lambda ENI);
 * - VPC endpoints (unless `endpoints: false`, when the VPC has them already) for what the
 *   function calls inside AWS: interface endpoints for STS (AssumeRole) and EKS
 *   (DescribeCluster), and Secrets Manager when approvals are on; gateway endpoints for S3
 *   (records) and DynamoDB (stream leases, approvals) in the given route tables. Each interface endpoint
 *   takes HTTPS from the function's security group only;
 * - not covered by an endpoint: the identity provider's JWKS (on the internet) and the SES
 *   API — the subnets need a NAT gateway for those (docs/aws.md);
 * - the cluster's own security group must let the function's group in on 443 (your cluster,
 *   your rule: the stack outputs the group to allow).
 */
import { CfnOutput, Fn, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface GatehouseNetworkProps {
  vpcId: string;
  /** Subnets the function runs in (private, with a NAT gateway for the IdP and SES). */
  subnetIds: string[];
  /** The function's security group; default: a new one with all egress and no ingress. */
  securityGroupId?: string;
  /** Route tables of those subnets, for the S3 and DynamoDB gateway endpoints; none: no gateway endpoints. */
  routeTableIds?: string[];
  /** Create the VPC endpoints (default true); false when the VPC has them already. */
  endpoints?: boolean;
  /** Approvals are on: add the Secrets Manager endpoint. */
  approvals: boolean;
}

export class GatehouseNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: GatehouseNetworkProps) {
    super(scope, id);
    // No lookup (synth stays offline): the subnets are given one by one below, so the VPC's own
    // subnet lists are never read and its zones need no real value.
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: [Fn.select(0, Fn.getAzs())] });
    this.subnets = props.subnetIds.map((subnetId, index) => {
      const routeTableId = props.routeTableIds?.[index];
      return ec2.Subnet.fromSubnetAttributes(this, `Subnet${index + 1}`, routeTableId === undefined ? { subnetId } : { subnetId, routeTableId });
    });
    this.securityGroup =
      props.securityGroupId === undefined
        ? new ec2.SecurityGroup(this, 'FunctionSecurityGroup', { vpc: this.vpc, description: 'Gatehouse function: egress only', allowAllOutbound: true })
        : ec2.SecurityGroup.fromSecurityGroupId(this, 'FunctionSecurityGroup', props.securityGroupId);

    if (props.endpoints !== false) {
      const endpointGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'Gatehouse VPC endpoints: HTTPS from the function only',
        allowAllOutbound: false,
      });
      endpointGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(443), 'HTTPS from the Gatehouse function');
      const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
        ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
        ['Eks', ec2.InterfaceVpcEndpointAwsService.EKS],
      ];
      if (props.approvals) services.push(['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER]);
      for (const [name, service] of services) {
        new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
          vpc: this.vpc,
          service,
          subnets: { subnets: this.subnets },
          securityGroups: [endpointGroup],
          privateDnsEnabled: true,
          open: false,
        });
      }
      if (props.routeTableIds !== undefined && props.routeTableIds.length > 0) {
        const gateways: [string, ec2.GatewayVpcEndpointAwsService][] = [
          ['S3', ec2.GatewayVpcEndpointAwsService.S3],
          ['DynamoDb', ec2.GatewayVpcEndpointAwsService.DYNAMODB],
        ];
        for (const [name, service] of gateways) {
          new ec2.GatewayVpcEndpoint(this, `${name}Endpoint`, { vpc: this.vpc, service, subnets: [{ subnets: this.subnets }] });
        }
      }
    }

    new CfnOutput(this, 'FunctionSecurityGroupId', {
      value: this.securityGroup.securityGroupId,
      description: "Allow this group in on 443 in the EKS cluster's security group (private endpoint)",
    });
  }

  /** The managed ENI policy Lambda adds to a function in a VPC, acknowledged with its reason. */
  static acknowledgeVpcAccess(role: Construct): void {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM4',
      reason:
        'AWSLambdaVPCAccessExecutionRole (added by CDK for a function in a VPC) lets Lambda create and delete the function\'s network interfaces; their ids are not known beforehand, so AWS scopes it to "*".',
    });
  }
}
