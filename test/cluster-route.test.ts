/** Which cluster a raw path names: the prefix matched byte for byte, stripped, and nothing else touched. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterServer, routeRequest, type ClusterRouter } from '../src/cluster-route.ts';

const several: ClusterRouter = { mode: 'prefixed', names: new Set(['dev', 'prod', 'prod_eu-2']) };
const one: ClusterRouter = { mode: 'root', name: 'prod' };

describe('routing a raw path to a cluster', () => {
  const routed: { name: string; router: ClusterRouter; path: string; cluster: string; rest: string }[] = [
    { name: 'a single-cluster deployment serves every path at the root, untouched', router: one, path: '/api/v1/namespaces/x/pods', cluster: 'prod', rest: '/api/v1/namespaces/x/pods' },
    { name: 'a single-cluster deployment leaves a /clusters/ path to the API server', router: one, path: '/clusters/dev/api', cluster: 'prod', rest: '/clusters/dev/api' },
    { name: 'strips the prefix of a named cluster', router: several, path: '/clusters/dev/api/v1/pods', cluster: 'dev', rest: '/api/v1/pods' },
    { name: 'the cluster URL itself is the root of that cluster', router: several, path: '/clusters/prod', cluster: 'prod', rest: '/' },
    { name: 'a trailing slash after the name is the root too', router: several, path: '/clusters/prod/', cluster: 'prod', rest: '/' },
    { name: 'names with "_" and "-" need no encoding', router: several, path: '/clusters/prod_eu-2/version', cluster: 'prod_eu-2', rest: '/version' },
    { name: 'what follows the name is passed on raw, for classify to judge (dot segments)', router: several, path: '/clusters/dev/../prod/api', cluster: 'dev', rest: '/../prod/api' },
    { name: 'what follows the name is passed on raw (an encoded slash)', router: several, path: '/clusters/dev/api/v1/namespaces/a%2Fb/pods', cluster: 'dev', rest: '/api/v1/namespaces/a%2Fb/pods' },
    { name: 'what follows the name is passed on raw (an empty segment)', router: several, path: '/clusters/dev//api', cluster: 'dev', rest: '//api' },
  ];
  for (const { name, router, path, cluster, rest } of routed) {
    test(name, () => assert.deepEqual(routeRequest(router, path), { cluster, path: rest }));
  }

  const refused: { name: string; path: string; message: string }[] = [
    { name: 'refuses a cluster nobody configured, naming it', path: '/clusters/staging/api', message: 'cluster "staging" is not one this Gatehouse fronts (request path "/clusters/staging/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses a percent-encoded spelling of a configured name', path: '/clusters/%64ev/api', message: 'cluster "%64ev" is not one this Gatehouse fronts (request path "/clusters/%64ev/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses an encoded slash that would climb to another cluster', path: '/clusters/dev%2F..%2Fprod/api', message: 'cluster "dev%2F..%2Fprod" is not one this Gatehouse fronts (request path "/clusters/dev%2F..%2Fprod/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses ".." as a cluster name', path: '/clusters/../api', message: 'cluster ".." is not one this Gatehouse fronts (request path "/clusters/../api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses "." as a cluster name', path: '/clusters/./dev/api', message: 'cluster "." is not one this Gatehouse fronts (request path "/clusters/./dev/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses an empty cluster name', path: '/clusters//dev/api', message: 'cluster "" is not one this Gatehouse fronts (request path "/clusters//dev/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses another case of a configured name', path: '/clusters/Dev/api', message: 'cluster "Dev" is not one this Gatehouse fronts (request path "/clusters/Dev/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses a name with a matrix parameter', path: '/clusters/dev;x=1/api', message: 'cluster "dev;x=1" is not one this Gatehouse fronts (request path "/clusters/dev;x=1/api"); names are matched exactly as configured, never decoded' },
    { name: 'refuses a path at the root of a several-cluster deployment', path: '/api/v1/pods', message: 'request path "/api/v1/pods" names no cluster: this Gatehouse fronts several clusters, each under /clusters/<name> (the server of its kubeconfig context)' },
    { name: 'refuses /clusters without a name', path: '/clusters', message: 'request path "/clusters" names no cluster: this Gatehouse fronts several clusters, each under /clusters/<name> (the server of its kubeconfig context)' },
    { name: 'refuses an encoded spelling of the prefix', path: '/%63lusters/dev/api', message: 'request path "/%63lusters/dev/api" names no cluster: this Gatehouse fronts several clusters, each under /clusters/<name> (the server of its kubeconfig context)' },
  ];
  for (const { name, path, message } of refused) {
    test(name, () => assert.deepEqual(routeRequest(several, path), { cluster: undefined, refusal: message }));
  }

  test('the kubeconfig server of a cluster is the Gatehouse URL plus its prefix', () => {
    assert.equal(clusterServer('https://gatehouse.example/', several, 'prod'), 'https://gatehouse.example/clusters/prod');
    assert.equal(clusterServer('https://gatehouse.example', one, 'prod'), 'https://gatehouse.example');
  });
});
