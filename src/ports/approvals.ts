/**
 * Ports of just-in-time approvals.
 *
 * - `Approvals` is what the pipeline (approve stage) and the approval pages use; the
 *   approval service (`src/approvals/approval-service.ts`) implements it.
 * - `ApprovalStore` keeps approvals; every state change is one conditional write, and a
 *   write whose condition fails throws the domain GatehouseError that explains why
 *   (ERR_APPROVAL_ALREADY_DECIDED, ERR_GRANT_ALREADY_USED, …), never an SDK exception.
 * - `SigningKeyProvider` hands out the secret that signs approval links.
 */
import type { GatehouseError } from '../errors.ts';
import type { AgentRequest, Approval, ApprovalEvent, ApprovalStatus, Verdict } from '../approvals/approval.ts';
import type { MaskingRules } from '../masking/index.ts';
import type { ApprovalOutcome, Decision, Identity, KubeRequest } from '../types.ts';

/** A request whose policy decision is `review`, as the approve stage hands it over. */
export interface ReviewRequest {
  identity: Identity;
  /** The signed-in caller when it acts as `identity` (kubectl --as): it is never one of the approvers. */
  impersonator?: Identity;
  request: KubeRequest;
  decision: Decision;
  method: string;
  /** The raw query string as received (the path is in `request.path`). */
  rawQuery: string;
  /** The request body as received (empty when there is none). */
  body: Uint8Array;
  contentType: string;
  /**
   * On Lambda, `https://<domainName>` of the Function URL as AWS names it in the event
   * (`requestContext.domainName`, never the Host header): approval links use it when no public
   * URL is configured. Undefined on the Node runtime, which must be configured with one.
   */
  functionUrlOrigin?: string;
  /** kubectl's `Kubectl-Command` header ("kubectl delete"), "" when absent. */
  kubectlCommand: string;
  /** kubectl's `Kubectl-Session` header, "" when absent. */
  kubectlSession: string;
  /** Set when the request is an MCP tool call of an AI agent. */
  agent?: AgentRequest;
  /** The masking rules of the policy: the body an approver sees is masked as a response would be. */
  masking?: MaskingRules;
}

/** What review concluded: forward (no refusal) or refuse with the error given. */
export interface ReviewResult {
  outcome: ApprovalOutcome;
  /** Set when the request must not go on; the outcome still names the approval for records. */
  refusal?: GatehouseError;
}

/** An approval link, opened and verified. */
export interface OpenedLink {
  approval: Approval;
  approver: string;
  /** Token the page's form must send back with a POST (bound to this link). */
  formToken: string;
  /** The Gatehouse (or cluster) name, for the page. */
  name: string;
}

export interface DecideInput {
  approvalId: string;
  linkToken: string;
  formToken: string;
  verdict: Verdict;
  comment: string;
}

export interface Approvals {
  /** Largest request body the approve stage reads to fingerprint a request; larger ones are refused. */
  readonly maxBodyBytes: number;
  /**
   * The origin of the configured public URL (`https://gatehouse.example.com`), or undefined when
   * none is configured: the approval page's POST may come from it even when a proxy in front
   * of Gatehouse hands the request on under another Host or scheme.
   */
  publicOrigin(): string | undefined;
  /**
   * Consumes a matching grant if one exists (atomically), or finds/creates the pending
   * approval for this exact request and notifies its approvers.
   */
  review(request: ReviewRequest): Promise<ReviewResult>;
  /** Verifies a link for the approval named; throws ERR_APPROVAL_LINK_INVALID / NOT_FOUND. GET never decides. */
  open(approvalId: string, linkToken: string): Promise<OpenedLink>;
  /** Decides an approval from its page's POST; throws the domain error when it cannot. */
  decide(input: DecideInput): Promise<Approval>;
  /**
   * Where an approval stands now (a lapsed one reads as expired), for the requester who asked
   * for it only: undefined when there is no such approval or `requester` did not ask for it.
   */
  state(approvalId: string, requester: string): Promise<ApprovalState | undefined>;
}

/** What a requester may learn of their own approval while waiting for it. */
export interface ApprovalState {
  status: ApprovalStatus;
  decidedBy?: string;
  comment?: string;
  /** Pending: when it lapses; approved: when the grant ends (epoch ms). */
  expiresAt: number;
}

/** State changes the store applies atomically, each guarded by a condition. */
export interface DecideChange {
  verdict: Verdict;
  by: string;
  at: number;
  comment: string;
  /** New expiry: the end of the grant for approvals, unchanged-ish for denials. */
  expiresAt: number;
}

export interface ApprovalStore {
  /** Stores a new approval; the id must be unused. */
  create(approval: Approval): Promise<void>;
  /** Strongly consistent read; undefined when there is no such approval (or TTL removed it). */
  get(id: string): Promise<Approval | undefined>;
  /** The id of the latest approval started for this fingerprint, if any. */
  currentFor(fingerprint: string): Promise<string | undefined>;
  /**
   * Makes `approvalId` the current approval of the fingerprint, only if the current one is
   * still `previousId` (undefined: none). Returns false when another request won the race.
   */
  claimFingerprint(fingerprint: string, approvalId: string, previousId: string | undefined, expiresAt: number): Promise<boolean>;
  /** Removes an approval that lost the claim race (only while pending and never mailed). */
  discard(id: string): Promise<void>;
  /** pending → approved|denied, only when not expired, by a listed approver who is not the requester. */
  decide(id: string, change: DecideChange): Promise<Approval>;
  /**
   * approved → consumed (grant "once") or one more use (grant "window"), only while the grant
   * lasts. `useId` names this use: when the store applied it but its answer was lost and the
   * write is retried, the retry finds the use already there and succeeds instead of refusing —
   * a grant is neither consumed twice nor lost to a dropped answer.
   */
  consume(id: string, grant: 'once' | 'window', at: number, useId: string): Promise<Approval>;
  /** pending → expired, once its time is up; returns the approval as it now stands. */
  expire(id: string, at: number): Promise<Approval>;
  /** Notes that approvers were mailed. */
  markNotified(id: string, event: ApprovalEvent): Promise<void>;
}

export interface SigningKeyProvider {
  /** The secret (at least 32 bytes) that signs approval links and page form tokens. */
  key(): Promise<Uint8Array>;
}
