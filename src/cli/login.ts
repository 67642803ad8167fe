/**
 * `gatehouse login`, `gatehouse credential` (the kubectl exec credential plugin) and
 * `gatehouse logout`. The plugin writes only the ExecCredential to stdout; everything meant
 * for the person goes to stderr, which kubectl passes through.
 */
import type { Command } from 'commander';
import { execCredential, execInteractive } from '../login/exec-credential.ts';
import { currentToken, login, logout, LoginError, type LoginOptions } from '../login/oidc-login.ts';
import { configDir } from '../login/token-cache.ts';
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
    expirySkewSeconds: 30,
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

export function registerLogin(program: Command): void {
  addIdpOptions(
    program.command('login').description('sign in to the identity provider and cache the tokens for kubectl'),
  ).action((flags: IdpFlags) =>
    run(async () => {
      const tokens = await login(loginOptions(flags, true));
      process.stderr.write(`Signed in; token valid until ${new Date(tokens.expiresAt * 1000).toISOString()}\n`);
    }),
  );

  addIdpOptions(
    program
      .command('credential')
      .description('kubectl exec credential plugin: print an ExecCredential, refreshing or signing in only when needed'),
  ).action((flags: IdpFlags) =>
    run(async () => {
      // kubectl says whether a person is there; an explicit browser command means automation may sign in.
      const interactive = execInteractive() !== false || Boolean(flags.browser ?? process.env.GATEHOUSE_BROWSER);
      const tokens = await currentToken(loginOptions(flags, interactive));
      process.stdout.write(`${JSON.stringify(execCredential(tokens.idToken, tokens.expiresAt))}\n`);
    }),
  );

  addIdpOptions(program.command('logout').description('forget the cached tokens for this identity provider')).action(
    (flags: IdpFlags) =>
      run(async () => {
        await logout(loginOptions(flags, false));
        process.stderr.write('Signed out.\n');
      }),
  );
}
