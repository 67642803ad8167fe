/**
 * Stands in for `node:child_process` inside commander in the credential plugin's bundle
 * (scripts/build.mjs): commander loads it only to run a subcommand as a separate program,
 * which Gatehouse never does, and loading it (with net, dgram and the stream machinery it
 * pulls in) was a third of the plugin's own start-up time.
 */
export function spawn(): never {
  throw new Error('gatehouse credential: commander tried to run a subcommand as a program; the plugin bundle has no child_process');
}
