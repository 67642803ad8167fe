/**
 * The exec section Gatehouse writes into kubeconfigs: kubectl runs a few lines of POSIX sh
 * that print the cached ExecCredential (credential-cache.ts) while it is valid, and otherwise
 * `exec` the Node plugin, which signs in or refreshes, rewrites the cache and prints. kubectl
 * runs the plugin before every command, and starting Node alone costs several times a whole
 * `kubectl get` with a static token; the shell costs a few milliseconds.
 *
 * What the script trusts, checked with shell builtins only (plus one `date +%s`):
 *   - the cache file and its directory are owned by the user running kubectl (`-O`) and are
 *     not symlinks (`-h`); the file is a regular file (the plugin writes it 0600 in a 0700
 *     directory, so nobody else can swap it between the checks and the read);
 *   - the first line is digits only and later than now (never evaluated as arithmetic), the
 *     second line starts as an ExecCredential of client.authentication.k8s.io/v1 does.
 * Anything else — missing, expired, a symlink, someone else's file, a line out of shape, a
 * shell without `-O` — is not an error: the Node plugin runs, and it never takes a credential
 * from this file, it writes a new one over whatever is there. No token is ever in argv or the environment.
 *
 * Windows has no POSIX sh: there the kubeconfig runs the Node plugin itself.
 */

/** What kubectl runs, as the kubeconfig's `exec.command` and `exec.args`. */
export interface ExecCommand {
  command: string;
  args: string[];
}

/** `$1`: the cache file; the rest: the Node plugin's command line. */
export const FAST_PATH_SCRIPT = `# Gatehouse: print the cached ExecCredential while it is valid, else run the Node plugin.
f=$1; shift
if [ -O "\${f%/*}" ] && [ ! -h "\${f%/*}" ] && [ -f "$f" ] && [ ! -h "$f" ] && [ -O "$f" ] &&
  { IFS= read -r until && IFS= read -r credential; } <"$f"; then
  case $until in
  '' | *[!0-9]*) ;;
  *) case $credential in
    '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'*)
      if [ "$until" -gt "$(date +%s)" ]; then printf '%s\\n' "$credential"; exit 0; fi ;;
    esac ;;
  esac
fi
exec "$@"
`;

/** The shell's name for itself in its messages (`$0`). */
const SCRIPT_NAME = 'gatehouse-credential';

/** The exec command for a kubeconfig: the fast path in front of `plugin`, or `plugin` itself on Windows. */
export function fastPathExec(plugin: ExecCommand, cacheFile: string, platform: NodeJS.Platform = process.platform): ExecCommand {
  if (platform === 'win32') return plugin;
  return { command: '/bin/sh', args: ['-c', FAST_PATH_SCRIPT, SCRIPT_NAME, cacheFile, plugin.command, ...plugin.args] };
}
