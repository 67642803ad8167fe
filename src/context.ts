/** Typed values each stage leaves in Hono's context for the stages after it. */
import type { ApprovalOutcome, Decision, Identity, KubeRequest, Restored, UpstreamConnection } from './types.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by record: one id per API call, also sent back as Audit-Id. */
    requestId: string;
    /** Set by authenticate; replaced by impersonate with the identity the caller may act as (kubectl --as). */
    identity: Identity;
    /** Set by impersonate: the authenticated caller, when it acts as `identity`. */
    impersonator: Identity;
    /** Set by classify. */
    kubeRequest: KubeRequest;
    /** Set by authorize. */
    decision: Decision;
    /** Set by approve, for review decisions. */
    approval: ApprovalOutcome;
    /** Set by credentials. */
    upstream: UpstreamConnection;
    /** Set by forward: the upstream's status code, when it answered. */
    upstreamStatus: number;
    /**
     * Set by restore when it put live values back in place of placeholders: the body forward
     * sends upstream instead of the client's (which records and approvals keep seeing).
     */
    upstreamBody: Uint8Array;
    /** Set by restore with `upstreamBody`: which fields it restored (paths, never values) and the resourceVersion the write is conditioned on. */
    restoration: Restored;
    /** Set by mask: whether any value was masked in the response. */
    masked: boolean;
    /**
     * The response body as it leaves (after masking), when a stage holds it whole: forward sets
     * it for answers it read whole, mask replaces it when it rewrites them. Record uses it
     * instead of teeing the stream. Absent for streamed answers.
     */
    responseBytes: Uint8Array;
    /** True when `responseBytes` went through the mask stage (masked, or scanned and clean). */
    responseBytesMasked: boolean;
  }
}

export {};
