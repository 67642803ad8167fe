#!/usr/bin/env node
// A "browser" for the login tests: follows the sign-in redirects with a cookie jar until the
// loopback redirect, and loads that page, as a person's browser would after signing in.
// Usage: fake-browser.mjs URL   (exits 0 when the loopback page answered 200)
const jar = new Map();
let url = process.argv[2];
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
