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
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { decodeJwt } from 'jose';
import { loadDevIssuer } from '../auth/dev-issuer.ts';
import { GatehouseConfigError } from '../config-error.ts';
import { GatehouseError } from '../errors.ts';

export interface ExecCredential {
  apiVersion: 'client.authentication.k8s.io/v1';
  kind: 'ExecCredential';
  status: { token: string; expirationTimestamp: string };
}

/** The ExecCredential kubectl's exec plugin protocol expects for a bearer token. */
export function execCredential(token: string): ExecCredential {
  const { exp } = decodeJwt(token);
  if (typeof exp !== 'number') throw new Error('a token for an ExecCredential must carry "exp"');
  // RFC 3339 without fractions, as client-go writes and reads it.
  const expirationTimestamp = new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token, expirationTimestamp } };
}

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
  program
    .command('dev-token')
    .description('LOCAL DEVELOPMENT ONLY: mint a token from the dev issuer of a loopback Gatehouse (no identity provider needed)')
    .requiredOption('--user <name>', 'user the token names (its email and sub claims)')
    .option('--group <name>', 'a group the user is in (repeat for more)', (value: string, previous: string[]) => [...previous, value], [])
    .option('--state-dir <dir>', 'state directory holding dev-issuer.jwk (default: $GATEHOUSE_STATE_DIR or ./.gatehouse)')
    .option('--ttl <seconds>', 'token lifetime in seconds (1 to 86400)', parseTtl, 3600)
    .option('--exec-credential', 'print a client.authentication.k8s.io/v1 ExecCredential for a kubeconfig exec section')
    .action(async (options: Omit<DevTokenOptions, 'stateDir'> & { stateDir?: string }) => {
      try {
        const issuer = await loadDevIssuer(options.stateDir === undefined ? defaultStateDir() : resolve(options.stateDir));
        const token = await issuer.mint(options.user, options.group, options.ttl);
        process.stdout.write(options.execCredential === true ? `${JSON.stringify(execCredential(token))}\n` : `${token}\n`);
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
