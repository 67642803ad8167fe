/**
 * What every page of Gatehouse's own (approvals, recordings) answers with: the same protective
 * headers, each page with its own Content-Security-Policy, and a failure as the error page
 * (`errorPageHtml`) titled by its code.
 */
import type { ErrorHandler } from 'hono';
import { errorPageHtml } from './approvals/page.tsx';
import { asGatehouseError } from './errors.ts';

/** Not cached, not framed, not sniffed; `csp` is the page's Content-Security-Policy. */
export function ownPageHeaders(csp: string): Record<string, string> {
  return {
    'cache-control': 'no-store',
    'content-security-policy': csp,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    // The link token is in the URL: never send it to another origin.
    'referrer-policy': 'same-origin',
  };
}

/** A failure of the pages of `area` as the error page: the title its code has in `titles`, else `fallbackTitle`; unexpected ones logged. */
export function ownPageErrors(area: string, titles: Partial<Record<string, string>>, fallbackTitle: string, headers: Record<string, string>): ErrorHandler {
  return (error, c) => {
    const failure = asGatehouseError(error);
    if (failure.code === 'ERR_INTERNAL') console.error(`gatehouse ${area} page failed:`, error);
    return c.html(errorPageHtml(titles[failure.code] ?? fallbackTitle, failure.message), failure.httpStatus as 403, headers);
  };
}
