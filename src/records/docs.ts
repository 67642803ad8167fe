/**
 * The generated part of docs/records.md and README.md: the schema table and the access-review
 * queries, rendered from schema.ts and queries.ts so the docs cannot drift from the code (a
 * test compares them). Regenerate with `npx tsx src/records/docs.ts --write`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ACCESS_REVIEW_QUERIES } from './queries.ts';
import { RECORD_COLUMNS, SCHEMA_VERSION } from './schema.ts';

export const DOC_PATH = fileURLToPath(new URL('../../docs/records.md', import.meta.url));
export const README_PATH = fileURLToPath(new URL('../../README.md', import.meta.url));
/** Every document that carries the generated section. */
export const GENERATED_DOC_PATHS = [DOC_PATH, README_PATH];
export const BEGIN_MARKER = '<!-- BEGIN GENERATED: src/records/docs.ts -->';
export const END_MARKER = '<!-- END GENERATED: src/records/docs.ts -->';

export function renderRecordsReference(): string {
  const lines: string[] = [];
  lines.push(`### Columns (schema_version ${SCHEMA_VERSION})`, '');
  lines.push('| column | type | always set | meaning |', '|---|---|---|---|');
  for (const column of RECORD_COLUMNS) {
    lines.push(`| \`${column.name}\` | ${column.type} | ${column.nullable ? '' : 'yes'} | ${column.description.replace(/\|/g, '\\|')} |`);
  }
  lines.push('', '### Access-review queries', '');
  for (const query of ACCESS_REVIEW_QUERIES) {
    lines.push(`#### ${query.title}`, '', query.description, '', '```sql', query.sql, '```', '');
  }
  return lines.join('\n');
}

/** The doc with its generated section replaced by the current rendering. */
export function withGeneratedSection(doc: string): string {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (begin === -1 || end < begin) throw new Error(`the document lacks the ${BEGIN_MARKER} … ${END_MARKER} markers`);
  return `${doc.slice(0, begin + BEGIN_MARKER.length)}\n${renderRecordsReference()}\n${doc.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  for (const path of GENERATED_DOC_PATHS) writeFileSync(path, withGeneratedSection(readFileSync(path, 'utf8')));
}
