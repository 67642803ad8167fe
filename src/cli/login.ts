/**
 * `gatehouse login`, `gatehouse credential` (the kubectl exec credential plugin) and
 * `gatehouse logout`. The plugin writes only the ExecCredential to stdout; everything meant
 * for the person goes to stderr, which kubectl passes through.
 *
 * The OAuth module (oidc-login.ts, oauth4webapi) is loaded only when a sign-in, a refresh or
 * a sign-out runs: a plugin call with a valid cached token reads the cache and prints.
 */
import type { Command } from 'commander';
import { execCredential, execInteractive } from '../login/exec-credential.ts';
import { LoginError } from '../login/login-error.ts';
import type { LoginOptions } from '../login/oidc-login.ts';
import { REFRESH_MARGIN_SECONDS } from '../login/credential-cache.ts';
import { configDir, lookUpCachedTokens, writeFastPathCredential } from '../login/token-cache.ts';
import { addCommand } from './commands.ts';
import { printableLines } from '../printable.ts';

interface IdpFlags {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scope: string[];
  flow: 'auto' | 'browser' | 'device';
  redirectPort: string;
  browser?: string;
  configDir?: string;
}

function addIdpOptions(command: Command): Command {
  return command
    .requiredOption('--issuer <url>', 'OIDC issuer URL of the identity provider', process.env.GATEHOUSE_OIDC_ISSUER)
    .requiredOption('--client-id <id>', 'OAuth client id registered for Gatehouse', process.env.GATEHOUSE_OIDC_CLIENT_ID)
    .option('--client-secret <secret>', 'client secret, for providers that require one for native apps')
    .option('--scope <scope...>', 'extra scopes to ask for, e.g. groups (openid, offline_access and email are always asked)', [])
    .option('--flow <flow>', 'auto | browser (code + PKCE, loopback redirect) | device (device code)', 'auto')
    .option('--redirect-port <port>', 'fixed loopback port for the browser redirect (0 = any free port)', '0')
    .option('--browser <command>', 'command that opens a URL (default: $GATEHOUSE_BROWSER, else xdg-open/open)')
    .option('--config-dir <dir>', 'where tokens are cached (default: $GATEHOUSE_CONFIG_DIR or ~/.config/gatehouse)');
}

function loginOptions(flags: IdpFlags, interactive: boolean): LoginOptions {
  if (!['auto', 'browser', 'device'].includes(flags.flow)) {
    throw new LoginError(`--flow must be auto, browser or device, not "${flags.flow}"`);
  }
  const port = Number(flags.redirectPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LoginError(`--redirect-port must be a port number, not "${flags.redirectPort}"`);
  const browserCommand = flags.browser ?? process.env.GATEHOUSE_BROWSER;
  const options: LoginOptions = {
    issuer: flags.issuer,
    clientId: flags.clientId,
    scopes: flags.scope,
    configDir: flags.configDir ?? configDir(),
    flow: flags.flow,
    interactive,
    redirectPort: port,
    expirySkewSeconds: REFRESH_MARGIN_SECONDS,
    // Lines carry what the identity provider sent (URLs, error descriptions): printable only.
    log: (line) => process.stderr.write(`${printableLines(line)}\n`),
  };
  if (flags.clientSecret !== undefined) options.clientSecret = flags.clientSecret;
  if (browserCommand) options.browserCommand = browserCommand;
  return options;
}

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof LoginError) {
      process.stderr.write(`gatehouse: ${printableLines(error.message)}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}

/** OAuth flows, loaded only when one runs. */
const oidcLogin = (): Promise<typeof import('../login/oidc-login.ts')> => import('../login/oidc-login.ts');

export function registerLogin(program: Command): void {
  addIdpOptions(addCommand(program, 'login')).action((flags: IdpFlags) =>
    run(async () => {
      const tokens = await (await oidcLogin()).login(loginOptions(flags, true));
      process.stderr.write(`Signed in; token valid until ${new Date(tokens.expiresAt * 1000).toISOString()}\n`);
    }),
  );
  registerCredential(program);
  addIdpOptions(addCommand(program, 'logout')).action((flags: IdpFlags) =>
    run(async () => {
      await (await oidcLogin()).logout(loginOptions(flags, false));
      process.stderr.write('Signed out.\n');
    }),
  );
}

export function registerCredential(program: Command): void {
  addIdpOptions(addCommand(program, 'credential')).action((flags: IdpFlags) =>
    run(async () => {
      // kubectl says whether a person is there; an explicit browser command means automation may sign in.
      const interactive = execInteractive() !== false || Boolean(flags.browser ?? process.env.GATEHOUSE_BROWSER);
      const options = loginOptions(flags, interactive);
      const lookup = await lookUpCachedTokens(options);
      const tokens = lookup.fresh ?? (await (await oidcLogin()).currentToken(options, lookup));
      // kubectl's shell fast path (fast-path-exec.ts) missed to get here: leave it what it can print next time.
      writeFastPathCredential(lookup.path, tokens);
      process.stdout.write(`${JSON.stringify(execCredential(tokens.idToken, tokens.expiresAt))}\n`);
    }),
  );
}
