/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and
 * the most inclusive time, with their files — what the bench prints when a target is missed.
 *
 * Usage: tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  selfPercent: number;
  totalPercent: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url === '' ? '' : url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
  return `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim();
}

export function summariseProfile(path: string, top = 25): { self: ProfileLine[]; total: ProfileLine[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfTime = new Map<number, number>();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const dt = profile.timeDeltas[index] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    all += dt;
  });
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, time] of selfTime) {
    const node = byId.get(id);
    if (node === undefined) continue;
    self.set(label(node), (self.get(label(node)) ?? 0) + time);
    // Inclusive: each distinct label on the stack once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at) as ProfileNode);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + time);
    }
  }
  const rank = (map: Map<string, number>): ProfileLine[] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name]) => ({ name, selfPercent: (100 * (self.get(name) ?? 0)) / all, totalPercent: (100 * (total.get(name) ?? 0)) / all }));
  return { self: rank(self), total: rank(total) };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [path, top] = process.argv.slice(2);
  if (path === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const { self, total } = summariseProfile(path, Number(top ?? 25));
  console.log('self%   total%  function');
  for (const line of self) console.log(`${line.selfPercent.toFixed(1).padStart(5)}  ${line.totalPercent.toFixed(1).padStart(6)}   ${line.name}`);
  console.log('\nby inclusive time:');
  for (const line of total) console.log(`${line.selfPercent.toFixed(1).padStart(5)}  ${line.totalPercent.toFixed(1).padStart(6)}   ${line.name}`);
}
