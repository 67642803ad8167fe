/**
 * The gatehouse program and its top-level commands' one-line summaries: what `gatehouse --help`
 * lists without loading any command's module (main.ts), and what the credential plugin's entry
 * (plugin.ts) shares with it. Exit codes: commander's usage errors exit 2, its help 0.
 */
import { Command } from 'commander';

export const COMMAND_SUMMARIES = {
  serve: 'run Gatehouse as an HTTPS server (local defaults unless --config is given)',
  kubeconfig: 'add or update a Gatehouse context in a kubeconfig (like `aws eks update-kubeconfig`)',
  login: 'sign in to the identity provider and cache the tokens for kubectl',
  credential: 'kubectl exec credential plugin: print an ExecCredential, refreshing or signing in only when needed',
  logout: 'forget the cached tokens for this identity provider',
  policy: 'explain and validate policy files',
  sessions: 'list kubectl sessions from the session records, replay one (exec recordings played with their timing), link to the recordings page',
  records: 'maintain the session records bucket: move records written before clusters into the cluster layout',
  'dev-token': 'LOCAL DEVELOPMENT ONLY: mint a token from the dev issuer of a loopback Gatehouse (no identity provider needed)',
} as const;

export type CommandName = keyof typeof COMMAND_SUMMARIES;

export function isCommandName(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMAND_SUMMARIES, name);
}

/** Adds a top-level command with its summary. */
export function addCommand(program: Command, name: CommandName): Command {
  return program.command(name).description(COMMAND_SUMMARIES[name]);
}

export function newProgram(): Command {
  return new Command('gatehouse')
    .description('Gatehouse: an access broker between kubectl and Kubernetes')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
}
