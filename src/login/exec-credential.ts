/**
 * The ExecCredential kubectl reads from an exec credential plugin's stdout
 * (client.authentication.k8s.io/v1), and the KUBERNETES_EXEC_INFO kubectl hands the plugin.
 */

export interface ExecCredential {
  apiVersion: 'client.authentication.k8s.io/v1';
  kind: 'ExecCredential';
  spec: { interactive?: boolean };
  status: { token: string; expirationTimestamp: string };
}

export function execCredential(token: string, expiresAtSeconds: number): ExecCredential {
  return {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    spec: {},
    status: { token, expirationTimestamp: new Date(expiresAtSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') },
  };
}

/** Whether kubectl says the plugin may talk to the user (absent info: assume a terminal decides). */
export function execInteractive(env: NodeJS.ProcessEnv = process.env): boolean | undefined {
  const raw = env.KUBERNETES_EXEC_INFO;
  if (!raw) return undefined;
  try {
    const info = JSON.parse(raw) as { spec?: { interactive?: boolean } };
    return info.spec?.interactive === true;
  } catch {
    return undefined;
  }
}
