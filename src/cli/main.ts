/**
 * The gatehouse command line: one program, a command per job, `--help` on each.
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by policy
 * (`policy check`), 4 needs a login the command could not complete.
 *
 * Only the module of the command being run is loaded: kubectl runs `gatehouse credential`
 * before every call, and it must not pay for loading the server, the AWS SDK or the stand-ins.
 */
import { Command } from 'commander';

type Register = (program: Command) => void;

const COMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./serve.ts')).registerServe,
  policy: async () => (await import('./policy.ts')).registerPolicy,
  login: async () => (await import('./login.ts')).registerLogin,
  kubeconfig: async () => (await import('./kubeconfig.ts')).registerKubeconfig,
  'dev-token': async () => (await import('./dev-token.ts')).registerDevToken,
  sessions: async () => (await import('./sessions.ts')).registerSessions,
};
/** Commands registered by another command's module. */
const ALIASES: Record<string, string> = { credential: 'login', logout: 'login' };

const program = new Command('gatehouse')
  .description('Gatehouse: an access broker between kubectl and Kubernetes')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

const requested = process.argv[2] ?? '';
const module = COMMANDS[ALIASES[requested] ?? requested];
const registers = module !== undefined ? [await module()] : await Promise.all(Object.values(COMMANDS).map((load) => load()));
for (const register of registers) register(program);

await program.parseAsync(process.argv);
