/**
 * `gatehouse dev-token`: mints a token from the LOCAL DEVELOPMENT issuer, for trying a
 * loopback Gatehouse without an identity provider. Prints the token, or with
 * `--exec-credential` an ExecCredential (client.authentication.k8s.io/v1) for a kubeconfig
 * `exec` section, so kubectl fetches a fresh token itself:
 *
 *   users:
 *   - name: alice
 *     user:
 *       exec:
 *         apiVersion: client.authentication.k8s.io/v1
 *         command: gatehouse
 *         args: [dev-token, --user, alice@example.com, --group, dev, --exec-credential]
 *         interactiveMode: Never
 *
 * With `--exec-credential` it also writes the credential to the shell fast path's cache
 * (credential-cache.ts, under `<state-dir>/credentials/`), so a kubeconfig that runs the fast
 * path (the one `gatehouse serve` writes) starts Node again only when the token nears expiry.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { devTokenCachePath, writeCredentialCache } from '../login/credential-cache.ts';
import { execCredential } from '../login/exec-credential.ts';
import { addCommand } from './commands.ts';

/** Where the dev issuer key lives when --state-dir is not given. */
export function defaultStateDir(): string {
  return resolve(process.env['GATEHOUSE_STATE_DIR'] ?? '.gatehouse');
}

interface DevTokenOptions {
  user: string;
  group: string[];
  stateDir: string;
  ttl: number;
  execCredential?: boolean;
}

export function registerDevToken(program: Command): void {
  addCommand(program, 'dev-token')
    .requiredOption('--user <name>', 'user the token names (its email and sub claims)')
    .option('--group <name>', 'a group the user is in (repeat for more)', (value: string, previous: string[]) => [...previous, value], [])
    .option('--state-dir <dir>', 'state directory holding dev-issuer.jwk (default: $GATEHOUSE_STATE_DIR or ./.gatehouse)')
    .option('--ttl <seconds>', 'token lifetime in seconds (1 to 86400)', parseTtl, 3600)
    .option('--exec-credential', 'print a client.authentication.k8s.io/v1 ExecCredential for a kubeconfig exec section')
    .action(async (options: Omit<DevTokenOptions, 'stateDir'> & { stateDir?: string }) => {
      // Loaded here, not at the top: this module is part of the credential plugin's entry (plugin.ts).
      const [{ loadDevIssuer }, { decodeJwt }, { GatehouseConfigError }, { GatehouseError }] = await Promise.all([
        import('../auth/dev-issuer.ts'),
        import('jose'),
        import('../config-error.ts'),
        import('../errors.ts'),
      ]);
      try {
        const stateDir = options.stateDir === undefined ? defaultStateDir() : resolve(options.stateDir);
        const issuer = await loadDevIssuer(stateDir);
        const token = await issuer.mint(options.user, options.group, options.ttl);
        const exp = decodeJwt(token).exp ?? 0;
        if (options.execCredential !== true) {
          process.stdout.write(`${token}\n`);
        } else {
          const credential = execCredential(token, exp);
          writeCredentialCache(devTokenCachePath(stateDir, options.user, options.group, options.ttl), credential, exp);
          process.stdout.write(`${JSON.stringify(credential)}\n`);
        }
      } catch (error) {
        // A refused name or a broken key file is the caller's to fix (exit 2); anything else failed (exit 1).
        const usage = error instanceof GatehouseError || error instanceof GatehouseConfigError;
        process.stderr.write(`gatehouse dev-token: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = usage ? 2 : 1;
      }
    });
}

function parseTtl(value: string): number {
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1 || seconds > 86400) throw new InvalidArgumentError('must be a whole number of seconds from 1 to 86400');
  return seconds;
}
