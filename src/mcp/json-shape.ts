/** Reading untyped JSON answers of the API server without trusting their shape: the wrong type reads as empty. */
export type Json = Record<string, unknown>;

export const obj = (value: unknown): Json => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {});
export const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
