/**
 * With a CDK-managed cluster (the `cluster` prop), the stack applies the RBAC manifest itself.
 * A second, separate synthesis (once for this file) of the stack with such a cluster.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { GatehouseStack, REPO_ROOT } from '../../infra/stack.ts';

let manifest: Record<string, unknown>[];

before(() => {
  const app = new App();
  const env = { account: '123456789012', region: 'eu-west-1' };
  const clusterStack = new Stack(app, 'Cluster', { env });
  new CfnWaitConditionHandle(clusterStack, 'StandsForTheClusterResources'); // an empty stack is a template warning
  const cluster = eks.Cluster.fromClusterAttributes(clusterStack, 'Prod', {
    clusterName: 'prod',
    kubectlRoleArn: 'arn:aws:iam::123456789012:role/prod-kubectl',
    kubectlLayer: lambda.LayerVersion.fromLayerVersionArn(clusterStack, 'Kubectl', 'arn:aws:lambda:eu-west-1:123456789012:layer:kubectl:1'),
  });
  const stack = new GatehouseStack(app, 'Gatehouse', {
    env,
    oidcIssuer: 'https://idp.example.com',
    oidcAudience: ['gatehouse'],
    clusterName: 'prod',
    cluster,
    kubernetesGroup: 'ops:gatehouse',
    policyFile: join(REPO_ROOT, 'policy', 'default.yaml'),
  });
  const resources = Template.fromStack(stack).findResources('Custom::AWSCDK-EKS-KubernetesResource');
  const [resource] = Object.values(resources) as { Properties: { Manifest: string | { 'Fn::Join': [string, unknown[]] } } }[];
  assert.ok(resource, 'the stack applies a Kubernetes manifest');
  const text = typeof resource.Properties.Manifest === 'string' ? resource.Properties.Manifest : resource.Properties.Manifest['Fn::Join'][1].join('');
  manifest = JSON.parse(text) as Record<string, unknown>[];
});

describe('GatehouseStack with a CDK-managed cluster', () => {
  test('applies the impersonator ClusterRole from infra/rbac/impersonator.yaml', () => {
    const role = manifest.find((doc) => doc.kind === 'ClusterRole') as { metadata: { name: string }; rules: { verbs: string[] }[] };
    assert.equal(role.metadata.name, 'gatehouse-impersonator');
    assert.deepEqual([...new Set(role.rules.flatMap((rule) => rule.verbs))], ['impersonate']);
  });

  test('binds it to the group the access entry maps the role to', () => {
    const binding = manifest.find((doc) => doc.kind === 'ClusterRoleBinding') as { subjects: unknown[] };
    assert.deepEqual(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ops:gatehouse' }]);
  });
});
