/**
 * Parses text that is YAML or, most often, JSON (JSON is YAML): JSON with the built-in
 * parser, anything else with `yaml`. Faster for the usual JSON, and what lets the Lambda
 * bundle — which carries no YAML parser (functions/yaml-absent.ts) — still read the JSON that
 * clients send under YAML media types (`kubectl apply --server-side` does).
 */
import { parse } from 'yaml';

export function parseJsonOrYaml(text: string): unknown {
  const first = text.trimStart().charAt(0);
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text);
    } catch {
      // YAML flow syntax, or not valid at all: the YAML parser reads it or says what is wrong.
    }
  }
  return parse(text);
}

/** Whether `error` says the runtime has no YAML parser (the Lambda bundle's stand-in). */
export function isYamlUnavailable(error: unknown): boolean {
  return error instanceof Error && error.name === 'YamlUnavailableError';
}
