/**
 * `gatehouse policy check` explains what a policy decides for one caller and one request,
 * without sending anything anywhere; `gatehouse policy validate` checks a policy file;
 * `gatehouse policy init` writes the starter policy (policy/starter.yaml) to start from.
 *
 *   gatehouse policy check --user alice@example.com --group dev DELETE /api/v1/namespaces/prod
 *   gatehouse policy check --user alice@example.com --verb create --resource pods/exec --namespace prod --name web
 *
 * Exit codes: 0 allowed; 3 denied, held for review, or refused before policy (a path the
 * API server could read differently); 2 invalid policy (every problem printed) or bad usage.
 */
import { copyFileSync, constants as fsConstants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { addCommand } from './commands.ts';
import { GatehouseConfigError } from '../config-error.ts';
import { GatehouseError } from '../errors.ts';
import { policyDenied } from '../pipeline/authorize.ts';
import { describeAction, describeCaller } from '../policy/describe-request.ts';
import { compilePolicy, readPolicyFile } from '../policy/policy-file.ts';
import { policyWarnings } from '../policy/policy-warnings.ts';
import { printable, printableJson } from '../printable.ts';
import { classifyRequest, nonResourceRequest, opensStream } from '../request-info.ts';
import type { Decision, Identity, KubeRequest } from '../types.ts';

export const DEFAULT_POLICY_PATH = fileURLToPath(new URL('../../policy/default.yaml', import.meta.url));
export const STARTER_POLICY_PATH = fileURLToPath(new URL('../../policy/starter.yaml', import.meta.url));

/** Writes the starter policy to `file`; never overwrites an existing file. */
export function initPolicy(file: string): CommandResult {
  try {
    copyFileSync(STARTER_POLICY_PATH, file, fsConstants.COPYFILE_EXCL);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'it already exists (Gatehouse does not overwrite a policy; choose another file or remove it)' : `it cannot be written: ${code ?? String(error)}`;
    return { exitCode: 1, stdout: '', stderr: `gatehouse policy init: not writing ${file}: ${why}\n` };
  }
  return {
    exitCode: 0,
    stdout: `wrote ${file}: the starter policy (discovery, OpenAPI, version, health and self-reviews for everyone signed in; nothing else yet). Add your rules, then: gatehouse policy validate ${file}\n`,
    stderr: '',
  };
}

export interface CheckOptions {
  policy: string;
  user: string;
  groups: string[];
  /** The cluster the request is for (rules with `clusters:`); default none — such rules then deny and review, never allow. */
  cluster?: string;
  /** METHOD and PATH (PATH may carry a ?query), classified as the API server would. */
  method?: string;
  target?: string;
  /** Or the request spelled out: a verb with a resource, or a verb with a non-resource path. */
  verb?: string;
  resource?: string;
  apiGroup?: string;
  namespace?: string;
  name?: string;
  path?: string;
  json?: boolean;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function checkPolicy(options: CheckOptions): CommandResult {
  let request: KubeRequest;
  try {
    request = requestFrom(options);
  } catch (error) {
    if (error instanceof UsageError) return { exitCode: 2, stdout: '', stderr: `gatehouse policy check: ${error.message}\n` };
    if (error instanceof GatehouseError) {
      return { exitCode: 3, stdout: '', stderr: `refused before policy (${error.code}): ${error.message}\n` };
    }
    throw error;
  }
  let engine;
  try {
    engine = compilePolicy(readPolicyFile(options.policy));
  } catch (error) {
    if (error instanceof GatehouseConfigError) return { exitCode: 2, stdout: '', stderr: `${error.message}\n` };
    throw error;
  }
  const identity: Identity = { user: options.user, groups: options.groups, claims: {} };
  request = { ...request, cluster: options.cluster ?? '' };
  const decision = engine.decide(identity, request);
  const exitCode = decision.effect === 'allow' ? 0 : 3;
  const stdout = options.json === true ? `${printableJson({ decision, identity: { user: identity.user, groups: identity.groups }, request }, 2)}\n` : explain(identity, request, decision);
  return { exitCode, stdout, stderr: '' };
}

export function validatePolicy(file: string): CommandResult {
  try {
    const doc = readPolicyFile(file);
    const counts = { allow: 0, deny: 0, review: 0 };
    for (const rule of doc.rules) counts[rule.effect]++;
    const warnings = policyWarnings(doc);
    return {
      exitCode: 0,
      stdout: `${file}: valid, ${doc.rules.length} rule${doc.rules.length === 1 ? '' : 's'} (${counts.deny} deny, ${counts.review} review, ${counts.allow} allow)${warnings.length === 0 ? '' : `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`}\n`,
      stderr: warnings.map((warning) => `warning: ${printable(warning)}\n`).join(''),
    };
  } catch (error) {
    if (error instanceof GatehouseConfigError) return { exitCode: 2, stdout: '', stderr: `${error.message}\n` };
    throw error;
  }
}

class UsageError extends Error {}

function requestFrom(options: CheckOptions): KubeRequest {
  const spelledOut = [options.verb, options.resource, options.apiGroup, options.namespace, options.name, options.path].some((v) => v !== undefined);
  if (options.method !== undefined) {
    if (spelledOut) throw new UsageError('give either METHOD PATH or --verb with --resource/--path, not both');
    if (options.target === undefined) throw new UsageError('PATH is missing after METHOD');
    const q = options.target.indexOf('?');
    const path = q === -1 ? options.target : options.target.slice(0, q);
    const query = q === -1 ? '' : options.target.slice(q + 1);
    return classifyRequest(options.method.toUpperCase(), path, query, { runtime: 'node' });
  }
  if (options.verb === undefined) throw new UsageError('give METHOD PATH, or --verb with --resource or --path');
  if (options.path !== undefined) {
    if (options.resource !== undefined || options.apiGroup !== undefined || options.namespace !== undefined || options.name !== undefined) {
      throw new UsageError('--path is for non-resource URLs; it does not combine with --resource, --api-group, --namespace or --name');
    }
    return nonResourceRequest(options.path, options.verb);
  }
  if (options.resource === undefined) throw new UsageError('--verb needs --resource (or --path for a non-resource URL)');
  const [resource = '', subresource = '', extra] = options.resource.split('/');
  if (resource === '' || extra !== undefined) throw new UsageError(`--resource ${JSON.stringify(options.resource)} must be "resource" or "resource/subresource"`);
  const apiGroup = options.apiGroup ?? '';
  const namespace = options.namespace ?? '';
  const name = options.name ?? '';
  const path = [apiGroup === '' ? '/api/v1' : `/apis/${apiGroup}/v1`, namespace === '' ? '' : `/namespaces/${namespace}`, `/${resource}`, name === '' ? '' : `/${name}`, subresource === '' ? '' : `/${subresource}`].join('');
  return {
    ...nonResourceRequest(path, options.verb),
    isResourceRequest: true,
    // As classify does: the API server authorizes exec/attach/portforward as create, whatever was asked.
    verb: opensStream(resource, subresource) ? 'create' : options.verb,
    apiPrefix: apiGroup === '' ? 'api' : 'apis',
    apiGroup,
    apiVersion: 'v1',
    namespace,
    resource,
    subresource,
    name,
    parts: [resource, name, subresource].filter((p) => p !== ''),
  };
}

function explain(identity: Identity, request: KubeRequest, decision: Decision): string {
  const lines = [
    `decision: ${decision.effect}`,
    `rule:     ${decision.rule ?? '(none: default deny)'}`,
    `reason:   ${decision.reason}`,
  ];
  if (decision.review !== undefined) {
    const window = decision.review.grant === 'window' ? ` for ${decision.review.windowSeconds}s` : '';
    lines.push(`review:   approvers ${decision.review.approvers.join(', ')}; grant ${decision.review.grant}${window}`);
  }
  if (decision.unmasked === true) lines.push('unmasked: Secret values are shown to this caller (break-glass)');
  lines.push(`caller:   ${describeCaller(identity)}`, `request:  ${describeAction(request)}`);
  if (request.cluster !== '') lines.push(`cluster:  ${request.cluster}`);
  const fields: [string, string][] = request.isResourceRequest
    ? [
        ['verb', request.verb],
        ['apiGroup', request.apiGroup],
        ['apiVersion', request.apiVersion],
        ['namespace', request.namespace],
        ['resource', request.resource],
        ['subresource', request.subresource],
        ['name', request.name],
        ['fieldSelector', request.fieldSelector],
        ['labelSelector', request.labelSelector],
      ]
    : [
        ['verb', request.verb],
        ['path', request.path],
      ];
  lines.push(`          ${request.isResourceRequest ? 'resource' : 'non-resource'} request: ${fields.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
  if (decision.effect === 'deny') lines.push(`kubectl would print: Error from server (Forbidden): ${policyDenied(identity, request, decision).message}`);
  return `${lines.map(printable).join('\n')}\n`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function emit(result: CommandResult): void {
  if (result.stdout !== '') process.stdout.write(result.stdout);
  if (result.stderr !== '') process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

/** What commander hands the action: CheckOptions minus the positionals, with `--group` collected. */
type CheckFlags = Omit<CheckOptions, 'groups' | 'method' | 'target'> & { group: string[] };

export function registerPolicy(program: Command): void {
  const policy = addCommand(program, 'policy');

  policy
    .command('check')
    .description('explain what the policy decides for a caller and a request, without sending anything (exit 0 allow, 3 deny/review)')
    .argument('[method]', 'HTTP method, e.g. GET or DELETE')
    .argument('[path]', 'request path as kubectl sends it, with an optional ?query')
    .option('--policy <file>', 'policy file', DEFAULT_POLICY_PATH)
    .requiredOption('--user <name>', 'the caller, as the identity provider names it')
    .option('--group <group>', 'a group of the caller (repeatable)', collect, [])
    .option('--verb <verb>', 'instead of METHOD PATH: the Kubernetes verb (get, list, create, …)')
    .option('--resource <resource>', 'with --verb: resource or resource/subresource, e.g. pods/exec')
    .option('--api-group <group>', 'with --verb: the API group ("" = core)')
    .option('--namespace <namespace>', 'with --verb: the namespace')
    .option('--name <name>', 'with --verb: the object name')
    .option('--path <path>', 'with --verb: a non-resource URL such as /version')
    .option('--cluster <name>', 'the cluster the request is for (rules with clusters:); default none, where such rules deny and review but never allow')
    .option('--json', 'print the decision and the classified request as JSON')
    .action((method: string | undefined, target: string | undefined, flags: CheckFlags) => {
      const { group, ...rest } = flags;
      const options: CheckOptions = { ...rest, groups: group };
      if (method !== undefined) options.method = method;
      if (target !== undefined) options.target = target;
      emit(checkPolicy(options));
    });

  policy
    .command('init')
    .description('write the starter policy to a file (never overwrites): kubectl works for everyone signed in, nothing else is allowed yet')
    .argument('[file]', 'where to write it', 'policy.yaml')
    .action((file: string) => emit(initPolicy(file)));

  policy
    .command('validate')
    .description('check a policy file and print every problem (exit 0 valid, 2 invalid)')
    .argument('<file>', 'policy file')
    .action((file: string) => emit(validatePolicy(file)));
}
