/**
 * The gatehouse command line: one program, a command per job, `--help` on each.
 * Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 refused by policy
 * (`policy check`), 4 needs a login the command could not complete.
 */
import { Command } from 'commander';
import { registerServe } from './serve.ts';
import { registerPolicy } from './policy.ts';
import { registerLogin } from './login.ts';
import { registerKubeconfig } from './kubeconfig.ts';
import { registerDevToken } from './dev-token.ts';
import { registerSessions } from './sessions.ts';

const program = new Command('gatehouse')
  .description('Gatehouse: an access broker between kubectl and Kubernetes')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

registerServe(program);
registerPolicy(program);
registerLogin(program);
registerKubeconfig(program);
registerDevToken(program);
registerSessions(program);

await program.parseAsync(process.argv);
