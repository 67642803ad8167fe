/**
 * Opening the sign-in page in the user's browser, safely on every platform. The URL comes
 * from the identity provider (its authorization endpoint plus our parameters), so it is
 * treated as hostile:
 *
 * - it must be `https:` (or `http:` on loopback, for local providers) — a `file:` path or
 *   another scheme handed to a platform opener can start a program;
 * - it is passed as one argument, never through a shell: on Windows through
 *   `rundll32 url.dll,FileProtocolHandler <url>` (what `start` does underneath, without
 *   cmd.exe parsing `&`, `|`, `^` and `%` in the URL), `open <url>` on macOS, `xdg-open <url>`
 *   elsewhere.
 *
 * `launchArgv` builds the argv (tested as a table on every platform); `openInBrowser` spawns it.
 */
import { spawn } from 'node:child_process';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export class UnsafeBrowserUrlError extends Error {
  override readonly name = 'UnsafeBrowserUrlError';
}

/** The opener on this platform (argv without the URL), or undefined where no browser can open. */
export function browserOpener(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, configured?: string): string[] | undefined {
  if (configured) return configured.split(' ').filter(Boolean);
  if (platform === 'darwin') return ['open'];
  if (platform === 'win32') return ['rundll32', 'url.dll,FileProtocolHandler'];
  if (env['DISPLAY'] || env['WAYLAND_DISPLAY']) return ['xdg-open'];
  return undefined;
}

/** The whole argv that opens `url`; throws UnsafeBrowserUrlError for a URL no browser should be handed. */
export function launchArgv(opener: readonly string[], url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UnsafeBrowserUrlError(`the sign-in URL is not a URL: ${JSON.stringify(url)}`);
  }
  const loopback = parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname);
  if (parsed.protocol !== 'https:' && !loopback) {
    throw new UnsafeBrowserUrlError(`refusing to open a ${parsed.protocol} sign-in URL: only https (or http on loopback) is opened in a browser`);
  }
  // The serialised URL: percent-encoded, no raw spaces or quotes, and never starting with "-".
  return [...opener, parsed.href];
}

/** Spawns the opener without a shell; a failure to start is logged, never thrown. */
export function openInBrowser(opener: readonly string[], url: string, log: (line: string) => void): void {
  const [program, ...args] = launchArgv(opener, url);
  if (program === undefined) return;
  const child = spawn(program, args, { stdio: 'ignore', detached: true, shell: false, windowsHide: true });
  child.on('error', (error) => log(`could not open a browser (${error.message}); open the URL above yourself`));
  child.unref();
}
