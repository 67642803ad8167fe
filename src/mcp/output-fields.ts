/**
 * The pieces of the tools' output schemas (tool-kit.ts makes each tool's fields optional and
 * adds the outcome fields). Loose where the data is the cluster's: the schema says what a
 * model can rely on, not every field an API server may send.
 */
import * as z from 'zod';

const anything = z.unknown().optional();
export const JSON_OBJECT = z.record(z.string(), z.unknown());
/** An object whole, as the cluster sent it after masking (without managedFields). */
export const CLUSTER_OBJECT = JSON_OBJECT.describe('The object as the cluster sent it, Secret values masked.');
/** What a write answered: the object's identity and version. */
export const WRITTEN = z.looseObject({ kind: anything, name: anything, namespace: anything, resourceVersion: anything, generation: anything });
export const EVENTS = z.array(z.looseObject({ time: anything, type: anything, reason: anything, object: z.string().optional(), message: anything, count: anything }));
export const DRY_RUN = z.boolean();
