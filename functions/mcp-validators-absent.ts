/**
 * Stands in, in the Lambda bundle only (infra/lambda-bundle.ts aliases the packages to this
 * file), for code the MCP SDK imports but Gatehouse never runs: Ajv and its formats (the SDK's
 * default validator of client-supplied JSON Schemas — Gatehouse passes its own, which refuses
 * them: src/mcp/endpoint.ts), and zod 3 with zod-to-json-schema (the SDK's path for zod-3
 * schemas; every Gatehouse schema is zod 4). About 300 KB of cold start. Each throws if reached,
 * so a change that starts to use them fails loudly instead of validating nothing.
 */
function absent(what: string): never {
  throw new Error(`${what} is not in the Gatehouse Lambda bundle (functions/mcp-validators-absent.ts)`);
}

/** `ajv` (a class) and `ajv-formats` (a function) are default exports. */
export default function ajvAbsent(): never {
  return absent('Ajv (JSON Schema validation of client-supplied schemas)');
}

/** `zod-to-json-schema`: only for zod 3 schemas. */
export function zodToJsonSchema(): never {
  return absent('zod-to-json-schema (zod 3 schemas)');
}

/** `zod/v3`: the SDK builds a zod 3 object only from a zod 3 shape. */
export function object(): never {
  return absent('zod 3');
}
