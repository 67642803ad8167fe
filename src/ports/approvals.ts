/** Port: just-in-time approvals (issue 4 fills this in). */
import type { ApprovalOutcome, Decision, Identity, KubeRequest } from '../types.ts';

export interface ReviewRequest {
  identity: Identity;
  request: KubeRequest;
  decision: Decision;
  /** SHA-256 of the request body, hex; "" when there is none. */
  bodySha256: string;
  kubectlCommand: string;
  kubectlSession: string;
}

export interface Approvals {
  /**
   * Consumes a matching grant if one exists (atomically), or creates/finds the pending
   * approval and notifies approvers. Returns the outcome; `approved` means forward.
   */
  review(request: ReviewRequest): Promise<ApprovalOutcome>;
}
