/**
 * Whether a host name or address names this machine only (127.0.0.0/8, ::1, localhost).
 * Used to keep the local development issuer off the network and to allow plain-HTTP
 * identity providers only on loopback (tests, a local IdP), never across a network.
 */

const IPV4_LOOPBACK = /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isLoopbackHost(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  const ipv4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  return IPV4_LOOPBACK.test(ipv4);
}

/** HTTPS anywhere, plain HTTP only to this machine: an IdP's keys must not cross a network in clear. */
export function isHttpsOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}
