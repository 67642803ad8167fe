/** Port: turns a bearer token into a verified Identity, or throws a GatehouseError (401). */
import type { Identity } from '../types.ts';

export interface Authenticator {
  verify(token: string): Promise<Identity>;
}
