/**
 * Parses text that is YAML or, most often, JSON (JSON is YAML): JSON with the built-in
 * parser, anything else with `yaml`. Faster for the usual JSON, and what lets the Lambda
 * bundle — which carries no YAML parser (functions/yaml-absent.ts) — still read the JSON that
 * clients send under YAML media types (`kubectl apply --server-side` does).
 */
import { parse } from 'yaml';

/**
 * YAML as the API server reads a request body (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1
 * (`yes` is true, `0755` is octal), merge keys, a repeated key keeps its last value.
 */
export const KUBERNETES_YAML = { version: '1.1', merge: true, uniqueKeys: false, maxAliasCount: 100 } as const;

export function parseJsonOrYaml(text: string, yamlOptions?: typeof KUBERNETES_YAML): unknown {
  const first = text.trimStart().charAt(0);
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text);
    } catch {
      // YAML flow syntax, or not valid at all: the YAML parser reads it or says what is wrong.
    }
  }
  return yamlOptions === undefined ? parse(text) : parse(text, yamlOptions);
}

/** Whether `error` says the runtime has no YAML parser (the Lambda bundle's stand-in). */
export function isYamlUnavailable(error: unknown): boolean {
  return error instanceof Error && error.name === 'YamlUnavailableError';
}
