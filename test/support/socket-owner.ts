/**
 * Which process holds one end of a loopback TCP connection (Linux /proc): how a test of
 * `gatehouse serve --workers N` tells which worker carries a connection — the kernel's own
 * account, nothing Gatehouse reports about itself.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The socket inodes of established IPv4 connections from `localPort` to `remotePort`. */
function established(localPort: number, remotePort: number): Set<string> {
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state, , , , , , inode] = line.trim().split(/\s+/);
    if (local === undefined || remote === undefined || inode === undefined || state !== '01') continue;
    if (Number.parseInt(local.split(':')[1] ?? '', 16) === localPort && Number.parseInt(remote.split(':')[1] ?? '', 16) === remotePort) inodes.add(inode);
  }
  return inodes;
}

/** The one of `pids` holding the end of the connection bound to `localPort` whose peer is `remotePort`; undefined when none does. */
export function socketOwner(pids: readonly number[], localPort: number, remotePort: number): number | undefined {
  const inodes = established(localPort, remotePort);
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed while we looked
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}
