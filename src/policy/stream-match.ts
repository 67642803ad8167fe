/**
 * Policy on what a stream runs: exec's argv (`commands`, `shells`), the container
 * (`containers`) and port-forward ports (`ports`). Pure. Reference: docs/policy.md.
 *
 * Semantics:
 * - A command pattern is a list of argument patterns, one per argument, each exact, `*` (any
 *   one argument) or a prefix ending in `*`. A last element `...` stands for any further
 *   arguments (none included); without it the argv must have exactly as many arguments.
 * - The program (argv[0]) is matched as written. Deny and review rules, failing closed, also
 *   match its base name: `["rm", "..."]` catches `/bin/rm -rf /`. Allow rules never widen:
 *   allowing `ls` does not allow `/tmp/x/ls`.
 * - `shells: true` matches any shell (SHELLS below, by base name, also behind `busybox`,
 *   `toybox` or `env`), with or without `-c` — a shell runs anything, so argv rules cannot see
 *   into it: review or deny shells, do not allow them by argument.
 * - `containers`: patterns of the container name. A request naming no container (the API
 *   server then picks the pod's default) matches deny and review rules, never allow rules.
 * - `ports`: a port-forward whose ports are known matches an allow rule when every port is
 *   listed, a deny or review rule when any is. A SPDY port-forward names its ports only per
 *   stream: its upgrade matches allow and review rules with `ports` (each stream's port is
 *   then decided again, and refused unless allowed — or reviewed and approved), never deny
 *   rules (they refuse the streams themselves).
 */
import type { Effect, StreamTarget } from '../types.ts';

/** Shells by base name: what `kubectl exec -it … -- <shell>` starts. */
export const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh', 'oksh', 'pdksh', 'yash', 'csh', 'tcsh', 'fish', 'rbash', 'hush', 'busybox-sh', 'nu', 'elvish', 'xonsh', 'pwsh', 'powershell', 'cmd', 'cmd.exe', 'powershell.exe', 'pwsh.exe']);
/** Programs that run their first argument as the program: `busybox sh`, `env bash`. */
const LAUNCHERS: ReadonlySet<string> = new Set(['busybox', 'toybox', 'env']);

export const ANY_FURTHER_ARGUMENTS = '...';

export interface StreamRuleFields {
  commands?: readonly (readonly string[])[] | undefined;
  shells?: boolean | undefined;
  containers?: readonly string[] | undefined;
  ports?: readonly number[] | undefined;
}

export function hasStreamFields(rule: StreamRuleFields): boolean {
  return rule.commands !== undefined || rule.shells !== undefined || rule.containers !== undefined || rule.ports !== undefined;
}

export function baseName(program: string): string {
  const slash = Math.max(program.lastIndexOf('/'), program.lastIndexOf('\\'));
  return slash === -1 ? program : program.slice(slash + 1);
}

/** True when argv starts a shell (directly or through a launcher). */
export function isShellCommand(argv: readonly string[]): boolean {
  const program = baseName(argv[0] ?? '');
  if (SHELLS.has(program)) return true;
  if (!LAUNCHERS.has(program)) return false;
  const next = argv.slice(1).find((arg) => !arg.startsWith('-') && !arg.includes('='));
  return next !== undefined && SHELLS.has(baseName(next));
}

function patternMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return value === pattern;
}

/** One command pattern against an argv; `loose` (deny/review) also matches the program's base name. */
export function commandMatches(pattern: readonly string[], argv: readonly string[], loose: boolean): boolean {
  const open = pattern[pattern.length - 1] === ANY_FURTHER_ARGUMENTS;
  const fixed = open ? pattern.length - 1 : pattern.length;
  if (open ? argv.length < fixed : argv.length !== fixed) return false;
  for (let i = 0; i < fixed; i += 1) {
    const p = pattern[i] as string;
    const arg = argv[i] as string;
    if (patternMatches(p, arg)) continue;
    if (i === 0 && loose && patternMatches(p, baseName(arg))) continue;
    return false;
  }
  return true;
}

/** Whether a rule's stream fields let this request through (true for rules without any). */
export function streamMatches(rule: StreamRuleFields, effect: Effect, stream: StreamTarget | undefined): boolean {
  if (!hasStreamFields(rule)) return true;
  if (stream === undefined) return false;
  const loose = effect !== 'allow';
  if (rule.commands !== undefined || rule.shells !== undefined) {
    if (stream.kind !== 'exec') return false;
    const byCommand = rule.commands?.some((pattern) => commandMatches(pattern, stream.command, loose)) ?? false;
    const byShell = rule.shells === true && isShellCommand(stream.command);
    if (!byCommand && !byShell) return false;
  }
  if (rule.containers !== undefined) {
    if (stream.kind === 'portforward') return false;
    if (stream.container === '') {
      if (!loose) return false;
    } else if (!rule.containers.some((pattern) => patternMatches(pattern, stream.container))) return false;
  }
  if (rule.ports !== undefined) {
    if (stream.kind !== 'portforward') return false;
    const listed = new Set(rule.ports);
    if (stream.ports.length === 0) return effect !== 'deny';
    if (effect === 'allow' ? !stream.ports.every((port) => listed.has(port)) : !stream.ports.some((port) => listed.has(port))) return false;
  }
  return true;
}
