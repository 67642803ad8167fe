/**
 * Writes k8s-schema.json, the field tables the stand-in decodes protobuf request bodies with,
 * from the `generated.proto` files of k8s.io/api and k8s.io/apimachinery (GA versions only):
 *
 *   tsx test/stand-in/proto/generate-schema.ts <k8s.io/api checkout> <k8s.io/apimachinery checkout> <label>
 *
 * Each message becomes `[number, jsonName, type, kind]` rows (kind 0 single, 1 repeated,
 * 2 map with type "key,value"); types are scalars or fully qualified message names. The
 * generated.proto field names are the JSON names (go-to-protobuf writes them so).
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SCALARS = new Set(['string', 'bytes', 'bool', 'int32', 'int64', 'uint32', 'uint64', 'double', 'float', 'fixed64', 'sint32', 'sint64']);
/** Directory of k8s.io/api → API group; GA versions only (what kubectl sends). */
const GROUPS: Record<string, string> = {
  core: '',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  policy: 'policy',
  rbac: 'rbac.authorization.k8s.io',
  authorization: 'authorization.k8s.io',
  authentication: 'authentication.k8s.io',
  networking: 'networking.k8s.io',
  scheduling: 'scheduling.k8s.io',
  storage: 'storage.k8s.io',
  coordination: 'coordination.k8s.io',
  discovery: 'discovery.k8s.io',
  events: 'events.k8s.io',
  node: 'node.k8s.io',
  certificates: 'certificates.k8s.io',
  admissionregistration: 'admissionregistration.k8s.io',
  flowcontrol: 'flowcontrol.apiserver.k8s.io',
};

type Row = [number, string, string, number];

function protoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...protoFiles(path));
    else if (entry === 'generated.proto') out.push(path);
  }
  return out;
}

function parse(text: string, messages: Record<string, Row[]>): string {
  const pkg = /^package ([\w.]+);/m.exec(text)?.[1] ?? '';
  let current: Row[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const open = /^message (\w+) \{/.exec(line);
    if (open !== null) {
      current = [];
      messages[`${pkg}.${open[1]}`] = current;
      continue;
    }
    if (line === '}') {
      current = undefined;
      continue;
    }
    if (current === undefined) continue;
    const qualify = (type: string): string => (SCALARS.has(type) ? type : type.startsWith('.') ? type.slice(1) : `${pkg}.${type}`);
    const field = /^(optional|repeated) ([.\w]+) (\w+) = (\d+)/.exec(line);
    if (field !== null) {
      current.push([Number(field[4]), field[3] as string, qualify(field[2] as string), field[1] === 'repeated' ? 1 : 0]);
      continue;
    }
    const map = /^map<([.\w]+), ?([.\w]+)> (\w+) = (\d+)/.exec(line);
    if (map !== null) current.push([Number(map[4]), map[3] as string, `${qualify(map[1] as string)},${qualify(map[2] as string)}`, 2]);
  }
  return pkg;
}

const [apiDir, machineryDir, label = ''] = process.argv.slice(2);
if (apiDir === undefined || machineryDir === undefined) throw new Error('usage: generate-schema.ts <k8s.io/api dir> <k8s.io/apimachinery dir> [label]');
const messages: Record<string, Row[]> = {};
const packages: Record<string, string> = {};
for (const file of protoFiles(machineryDir)) {
  if (/testapigroup|meta\/v1beta1/.test(file)) continue;
  parse(readFileSync(file, 'utf8'), messages);
}
for (const file of protoFiles(apiDir)) {
  const [dir = '', version = ''] = relative(apiDir, file).split('/');
  const group = GROUPS[dir];
  if (group === undefined || !/^v\d+$/.test(version)) continue;
  packages[group === '' ? version : `${group}/${version}`] = parse(readFileSync(file, 'utf8'), messages);
}
writeFileSync(
  new URL('./k8s-schema.json', import.meta.url),
  `${JSON.stringify({ generatedFrom: label, packages, messages: Object.fromEntries(Object.entries(messages).sort()) })}\n`,
);
