/**
 * The gatehouse command line: one program, a command per job, `--help` on each.
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by policy
 * (`policy check`), 4 needs a login the command could not complete.
 *
 * Only the module of the command being run is loaded (each is its own chunk in dist/);
 * `gatehouse --help` lists the commands from their summaries without loading any.
 * `credential` and `dev-token` do not come here at all: bin/gatehouse.mjs runs them from
 * plugin.ts, a single small file, since kubectl runs the plugin before every call.
 */
import type { Command } from 'commander';
import { addCommand, COMMAND_SUMMARIES, isCommandName, newProgram, type CommandName } from './commands.ts';

type Register = (program: Command) => void;

const login = async (): Promise<Register> => (await import('./login.ts')).registerLogin;
const COMMANDS: Record<CommandName, () => Promise<Register>> = {
  serve: async () => (await import('./serve.ts')).registerServe,
  kubeconfig: async () => (await import('./kubeconfig.ts')).registerKubeconfig,
  login,
  credential: login,
  logout: login,
  policy: async () => (await import('./policy.ts')).registerPolicy,
  sessions: async () => (await import('./sessions.ts')).registerSessions,
  records: async () => (await import('./records.ts')).registerRecords,
  'dev-token': async () => (await import('./dev-token.ts')).registerDevToken,
};

const program = newProgram();
// `gatehouse help serve` asks for the same module as `gatehouse serve --help`.
const requested = process.argv[2] === 'help' ? process.argv[3] : process.argv[2];
if (isCommandName(requested)) {
  (await COMMANDS[requested]())(program);
} else {
  for (const name of Object.keys(COMMAND_SUMMARIES) as CommandName[]) addCommand(program, name);
}
await program.parseAsync(process.argv);
