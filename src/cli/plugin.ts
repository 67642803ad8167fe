/**
 * The entry of `gatehouse credential` and `gatehouse dev-token` (bin/gatehouse.mjs picks it):
 * kubectl runs the exec credential plugin before every call, so this is built into one small
 * file that holds only these two commands — no AWS SDK, no Hono, no configuration schema.
 * With a valid cached token `credential` reads one file and prints; signing in or refreshing
 * loads the OAuth module only then.
 */
import { newProgram } from './commands.ts';
import { registerDevToken } from './dev-token.ts';
import { registerCredential } from './login.ts';

const program = newProgram();
registerCredential(program);
registerDevToken(program);
await program.parseAsync(process.argv);
