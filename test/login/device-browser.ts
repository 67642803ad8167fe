/**
 * A person completing the device flow in a browser, for the login tests: opens the
 * verification URL, submits oidc-provider's confirmation form (hidden fields and all, as the
 * page's Continue button does), and follows the redirects through sign-in and consent with a
 * cookie jar, until the provider's success page.
 */
export async function completeDeviceSignIn(verificationUrl: string): Promise<string> {
  const jar = new Map<string, string>();
  const cookieHeader = (): Record<string, string> => (jar.size === 0 ? {} : { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') });
  const remember = (response: Response): void => {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const follow = async (first: Response, base: URL): Promise<{ response: Response; url: URL }> => {
    let response = first;
    let url = base;
    for (let hop = 0; hop < 20; hop++) {
      remember(response);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null) return { response, url };
      await response.text();
      url = new URL(location, url);
      response = await fetch(url, { redirect: 'manual', headers: cookieHeader() });
    }
    throw new Error('too many redirects');
  };

  const start = new URL(verificationUrl);
  let page = await follow(await fetch(start, { redirect: 'manual', headers: cookieHeader() }), start);
  // Each page either is a form the person submits (the page's own script, or its Continue
  // button) or the end of the flow.
  for (let step = 0; step < 6; step++) {
    const html = await page.response.text();
    if (page.response.status !== 200) throw new Error(`device sign-in ended with HTTP ${page.response.status}: ${html.slice(0, 300)}`);
    const form = /<form[^>]*id="op\.deviceConfirmForm"[^>]*>([\s\S]*?)<\/form>/.exec(html) ?? /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/.exec(html);
    if (form === null) return html;
    const action = /action="([^"]+)"/.exec(form[0])?.[1] ?? page.url.pathname;
    const fields = new URLSearchParams();
    for (const input of (form[1] ?? '').matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"[^>]*>/g)) {
      fields.set(input[1] as string, input[2] as string);
    }
    const target = new URL(action, page.url);
    const submitted = await fetch(target, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookieHeader() },
      body: fields.toString(),
    });
    page = await follow(submitted, target);
  }
  throw new Error('the device flow did not end within 6 pages');
}
