/**
 * Label and field selectors with the API server's grammar (k8s.io/apimachinery labels.Parse,
 * fields.ParseSelector) and its error messages for the cases kubectl users hit.
 */
import { badRequest } from './status.ts';

export type Labels = Record<string, string>;
type Predicate = (labels: Labels) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b` → [`a in (x,y)`, `b`]. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key)) throw badRequest(`unable to parse requirement: <nil>: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') in selector "${selector}"`);
  return key;
}

function requirement(text: string, selector: string): Predicate {
  let m = /^!\s*(\S+)$/.exec(text);
  if (m?.[1] !== undefined) {
    const key = checkKey(m[1], selector);
    return (l) => !(key in l);
  }
  m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
    const key = checkKey(m[1], selector);
    const values = m[3].split(',').map((v) => v.trim());
    if (m[2] === 'in') return (l) => l[key] !== undefined && values.includes(l[key]);
    return (l) => l[key] === undefined || !values.includes(l[key]);
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)$/.exec(text);
  if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
    const key = checkKey(m[1], selector);
    const value = m[3];
    switch (m[2]) {
      case '!=':
        return (l) => l[key] !== value;
      case '<':
        return (l) => l[key] !== undefined && Number(l[key]) < Number(value);
      case '>':
        return (l) => l[key] !== undefined && Number(l[key]) > Number(value);
      default:
        return (l) => l[key] === value;
    }
  }
  if (/^\S+$/.test(text)) {
    const key = checkKey(text, selector);
    return (l) => key in l;
  }
  throw badRequest(`unable to parse requirement: found '${text}', expected: in, notin, =, ==, !=, gt, lt`);
}

export function parseLabelSelector(selector: string): Predicate {
  const requirements = splitTopLevel(selector).map((r) => requirement(r, selector));
  return (labels) => requirements.every((r) => r(labels));
}

export interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

/** Parses `a=b,c!=d`; checks every field label against what the resource type supports. */
export function parseFieldSelector(selector: string, supported: readonly string[]): FieldRequirement[] {
  const result: FieldRequirement[] = [];
  for (const part of selector.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part);
    if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) {
      throw badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    }
    const field = m[1].trim();
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    result.push({ field, value: m[3].trim(), negate: m[2] === '!=' });
  }
  return result;
}

/** The value of a dotted field path in an object, as a string the way field selectors compare it. */
export function fieldValue(object: unknown, field: string): string {
  let current: unknown = object;
  for (const key of field.split('.')) {
    if (current === null || typeof current !== 'object') return '';
    current = (current as Record<string, unknown>)[key];
  }
  if (current === undefined || current === null) return field === 'spec.hostNetwork' || field === 'spec.unschedulable' ? 'false' : '';
  return String(current);
}

export function matchesFields(object: unknown, requirements: readonly FieldRequirement[]): boolean {
  return requirements.every((r) => (fieldValue(object, r.field) === r.value) !== r.negate);
}
