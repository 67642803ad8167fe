/**
 * AWS SDK client settings for a configured region and endpoint override. An endpoint on a
 * loopback address is a local stand-in (dynalite, aws-ses-v2-local …), which checks no
 * credentials: it gets dummy ones, so no credential chain is searched.
 */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function awsClientConfig(
  region: string | undefined,
  endpoint: string | undefined,
): { region?: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } {
  const isStandIn = endpoint !== undefined && LOOPBACK.has(new URL(endpoint).hostname);
  return {
    ...(region === undefined ? (isStandIn ? { region: 'local' } : {}) : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(isStandIn ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  };
}
