// The argv that opens the sign-in page: never a shell, on every platform, whatever the
// identity provider puts in its authorization endpoint.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserOpener, launchArgv, openInBrowser, UnsafeBrowserUrlError } from '../../src/login/open-browser.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-open-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SHELLS = /^(cmd|cmd\.exe|sh|bash|powershell|pwsh)$/i;

describe('browserOpener', () => {
  const cases: [string, NodeJS.Platform, NodeJS.ProcessEnv, string | undefined, string[] | undefined][] = [
    ['Windows uses rundll32 url.dll,FileProtocolHandler, not cmd /c start', 'win32', {}, undefined, ['rundll32', 'url.dll,FileProtocolHandler']],
    ['macOS uses open', 'darwin', {}, undefined, ['open']],
    ['Linux with a display uses xdg-open', 'linux', { DISPLAY: ':0' }, undefined, ['xdg-open']],
    ['Linux on Wayland uses xdg-open', 'linux', { WAYLAND_DISPLAY: 'wayland-0' }, undefined, ['xdg-open']],
    ['Linux without a display has none (the device flow then)', 'linux', {}, undefined, undefined],
    ['a configured command is split into words, never given to a shell', 'win32', {}, 'firefox --new-window', ['firefox', '--new-window']],
  ];
  for (const [name, platform, env, configured, expected] of cases) {
    test(name, () => assert.deepEqual(browserOpener(platform, env, configured), expected));
  }
});

describe('launchArgv', () => {
  const hostile = [
    'https://idp.example.com/auth?client_id=x&calc.exe&state=1',
    'https://idp.example.com/auth?a=1|whoami&b=^&c=%PATH%',
    'https://idp.example.com/auth?q=$(touch /tmp/pwned);`id`',
    'https://idp.example.com/auth?q="quoted"&r=\'single\'',
  ];
  for (const platform of ['win32', 'darwin', 'linux'] as const) {
    for (const url of hostile) {
      test(`on ${platform}, ${url} is one argument after the opener, no shell`, () => {
        const opener = browserOpener(platform, { DISPLAY: ':0' }) ?? [];
        const argv = launchArgv(opener, url);
        assert.ok(!SHELLS.test(argv[0] ?? ''), argv.join(' '));
        assert.equal(argv.length, opener.length + 1);
        assert.equal(argv.at(-1), new URL(url).href);
        assert.ok(!(argv.at(-1) ?? '').includes(' ') && !(argv.at(-1) ?? '').includes('"'), 'no raw blanks or quotes reach the opener');
      });
    }
  }

  const refused: [string, string, RegExp][] = [
    ['a file: path (ShellExecute would run it)', 'file:///C:/Windows/System32/calc.exe', /refusing to open a file: sign-in URL/],
    ['a UNC path', '\\\\evil.example.com\\share\\run.exe', /not a URL/],
    ['javascript:', 'javascript:alert(1)', /refusing to open a javascript: sign-in URL/],
    ['plain http to another host', 'http://idp.example.com/auth', /only https \(or http on loopback\)/],
    ['an ms-settings: handler', 'ms-settings:windowsupdate', /refusing to open a ms-settings: sign-in URL/],
  ];
  for (const [name, url, message] of refused) {
    test(`refuses ${name}`, () => {
      assert.throws(() => launchArgv(['rundll32', 'url.dll,FileProtocolHandler'], url), (error: unknown) => error instanceof UnsafeBrowserUrlError && message.test(error.message));
    });
  }

  test('opens http on loopback (local identity providers)', () => {
    assert.deepEqual(launchArgv(['open'], 'http://127.0.0.1:5556/auth?x=1'), ['open', 'http://127.0.0.1:5556/auth?x=1']);
  });
});

describe('openInBrowser spawns without a shell', () => {
  test('the opener receives the URL byte for byte and nothing in it runs', async () => {
    const out = join(dir, 'argv.json');
    const pwned = join(dir, 'pwned');
    const script = join(dir, 'opener.mjs');
    // Written beside, then renamed: the test sees the file only once it is whole.
    writeFileSync(script, `import { renameSync, writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(`${out}.part`)}, JSON.stringify(process.argv.slice(2)));\nrenameSync(${JSON.stringify(`${out}.part`)}, ${JSON.stringify(out)});\n`);
    const url = `https://idp.example.com/auth?q=$(touch%20${pwned});touch&x=\`touch ${pwned}\``;
    openInBrowser([process.execPath, script], url, () => undefined);
    for (let i = 0; i < 400 && !existsSync(out); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), [new URL(url).href]);
    assert.equal(existsSync(pwned), false);
  });
});
