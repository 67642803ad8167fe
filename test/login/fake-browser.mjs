#!/usr/bin/env node
// A "browser" for the login tests: follows the sign-in redirects with a cookie jar until the
// loopback redirect, and loads that page, as a person's browser would after signing in.
// Usage: fake-browser.mjs [--forge-first=FILE] URL   (exits 0 when the loopback page answered 200)
// --forge-first: first plays another local process that races the real redirect — callbacks
// with a wrong or missing state (an error, a code of its own) — and writes their statuses to FILE.
import { writeFileSync } from 'node:fs';

const jar = new Map();
const forge = process.argv.slice(2).find((arg) => arg.startsWith('--forge-first='));
let url = process.argv.at(-1);
if (forge !== undefined) {
  const callback = new URL(new URL(url).searchParams.get('redirect_uri'));
  const statuses = [];
  for (const query of ['error=access_denied&state=forged', 'code=attacker-code&state=forged', 'error=access_denied', 'code=attacker-code']) {
    statuses.push((await fetch(`${callback.href}?${query}`)).status);
  }
  writeFileSync(forge.slice('--forge-first='.length), JSON.stringify(statuses));
}
for (let hop = 0; hop < 20 && url; hop++) {
  const target = new URL(url);
  const cookie = [...jar.entries()].filter(([k]) => k.startsWith(`${target.host}|`)).map(([k, v]) => `${k.split('|')[1]}=${v}`).join('; ');
  const response = await fetch(target, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    jar.set(`${target.host}|${pair.slice(0, eq)}`, pair.slice(eq + 1));
  }
  const location = response.headers.get('location');
  if (response.status >= 300 && response.status < 400 && location) {
    url = new URL(location, target).href;
    continue;
  }
  await response.text();
  process.exit(response.status === 200 ? 0 : 1);
}
process.exit(1);
