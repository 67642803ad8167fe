/**
 * Discovery documents as kube-apiserver serves them: legacy (`APIVersions`, `APIGroupList`,
 * `APIGroup`, `APIResourceList`) and aggregated (`APIGroupDiscoveryList`, apidiscovery.k8s.io
 * v2 and v2beta1), plus `/version`. All derived from the catalogue.
 */
import { RESOURCE_TYPES, apiVersionOf, groupVersions, type ResourceType } from './catalogue.ts';

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
}

export function versionDocument(version: VersionInfo): Record<string, string> {
  return {
    major: version.major,
    minor: version.minor,
    gitVersion: version.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.24.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersionsDocument(serverAddress: string): unknown {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${group}/${gv.version}`, version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

function namedGroups(): string[] {
  return [...new Set(groupVersions().map((gv) => gv.group))].filter((g) => g !== '');
}

export function apiGroupListDocument(): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: namedGroups().map(apiGroup) };
}

/** `/apis/{group}`; undefined when the group is not served. */
export function apiGroupDocument(group: string): unknown {
  if (!namedGroups().includes(group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group) };
}

/** `/api/v1` or `/apis/{group}/{version}`; undefined when not served. */
export function apiResourceListDocument(group: string, version: string): unknown {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((t) => [
    {
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    },
    ...t.subresources.map((s) => ({
      name: `${t.resource}/${s.name}`,
      singularName: '',
      namespaced: t.namespaced,
      ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
      kind: s.kind,
      verbs: s.verbs,
    })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

function discoveryResource(t: ResourceType): Record<string, unknown> {
  return {
    resource: t.resource,
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    scope: t.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: t.singular,
    verbs: t.verbs,
    ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    ...(t.subresources.length > 0
      ? {
          subresources: t.subresources.map((s) => ({
            subresource: s.name,
            responseKind: { group: s.group ?? t.group, version: s.version ?? t.version, kind: s.kind },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}

export type AggregatedVersion = 'v2' | 'v2beta1';

export function aggregatedContentType(version: AggregatedVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

/** Aggregated discovery for `/api` (core) or `/apis` (named groups). */
export function aggregatedDocument(root: 'api' | 'apis', version: AggregatedVersion): unknown {
  const groups = root === 'api' ? [''] : namedGroups();
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map((group) => ({
      metadata: group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
      versions: groupVersions()
        .filter((gv) => gv.group === group)
        .map((gv) => ({
          version: gv.version,
          resources: RESOURCE_TYPES.filter((t) => t.group === group && t.version === gv.version).map(discoveryResource),
          freshness: 'Current',
        })),
    })),
  };
}
