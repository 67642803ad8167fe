/**
 * The approval service: implements the `Approvals` port on top of a store, a mailer and a
 * link-signing key.
 *
 * review(): fingerprint the exact request → the fingerprint's current approval decides:
 *   approved → consume the grant atomically (one winner among concurrent retries) → forward;
 *   pending  → refuse again with the same id (no new mail, unless mailing failed before);
 *   denied   → refuse, naming who denied it;
 *   expired / consumed / none → start a new pending approval, claim the fingerprint with a
 *   conditional write (concurrent first runs agree on one approval, one mail), mail each
 *   approver their own signed link, refuse with ERR_APPROVAL_REQUIRED.
 * With `holdSeconds` > 0 a pending request is held open, polling the store, and forwarded
 * the moment it is approved.
 * open()/decide(): the approval page; GET opens (verifies the link), only POST decides.
 */
import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import { printable } from '../printable.ts';
import type { Approvals, ApprovalStore, DecideInput, OpenedLink, ReviewRequest, ReviewResult, SigningKeyProvider } from '../ports/approvals.ts';
import type { Mailer } from '../ports/mailer.ts';
import type { Clock } from '../types.ts';
import type { Approval, ApprovalTarget } from './approval.ts';
import { assertDecidable, effectiveStatus, expiryAfterDecision, iso, samePerson, toOutcome } from './approval.ts';
import { bodyDecidable, summarizeBody, type BodySummary } from './body-summary.ts';
import { requestFingerprint, sha256Hex } from './fingerprint.ts';
import { formTokenFor, formTokenMatches, linkUrl, signLink, verifyLink } from './link.ts';
import { approvalDenied, approvalMailFor, approvalRequired, bodyUnshowable } from './messages.ts';

export interface ApprovalServiceOptions {
  store: ApprovalStore;
  mailer: Mailer;
  signingKey: SigningKeyProvider;
  clock: Clock;
  /**
   * Public base URL of Gatehouse for links, from configuration (a function when it is known
   * only once the local server listens). Without it, links use the Function URL domain AWS
   * names in the Lambda event; with neither, a review is refused (503). Never a request's Host.
   */
  publicUrl?: string | (() => string);
  /** Seconds a pending approval lives, and an approved one-shot grant stays usable. */
  ttlSeconds: number;
  /** Seconds to hold a pending request open waiting for the decision (0: answer at once). */
  holdSeconds: number;
  /** Largest request body read for a review (default 1 MiB). */
  maxBodyBytes?: number;
  /** Poll interval while holding; default 1000 ms. */
  pollIntervalMs?: number;
  /** How holding waits between polls; tests pass one that advances their clock. */
  wait?: (ms: number) => Promise<void>;
  newId?: () => string;
  log?: (message: string) => void;
  /** The Gatehouse (or cluster) name approvers see on the page and in the mail subject; default "Gatehouse". */
  name?: string;
}

const MAX_COMMENT_CHARS = 1000;
const MAX_RACE_ROUNDS = 5;

export function createApprovalService(options: ApprovalServiceOptions): Approvals {
  const { store, mailer, signingKey, clock } = options;
  const name = options.name ?? 'Gatehouse';
  const configuredUrl = options.publicUrl;
  /** Where this review's links point: the configured public URL, else the Function URL AWS named. */
  const linkBase = (req: ReviewRequest): string => {
    const configured = typeof configuredUrl === 'function' ? configuredUrl() : configuredUrl;
    const base = configured || req.functionUrlOrigin;
    if (base === undefined || base === '') {
      throw new GatehouseError(
        'ERR_APPROVALS_UNAVAILABLE',
        'approval links need a public URL and none is configured (set approvals.publicUrl); nothing was approved or forwarded',
      );
    }
    return base;
  };
  const wait = options.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const newId = options.newId ?? (() => randomBytes(10).toString('hex'));
  const newUseId = (): string => randomBytes(12).toString('base64url');
  const log = options.log ?? ((message: string) => console.error(`gatehouse approvals: ${printable(message)}`));
  const pollIntervalMs = options.pollIntervalMs ?? 1000;

  async function notify(approval: Approval, base: string): Promise<boolean> {
    const now = clock.now();
    try {
      const key = await signingKey.key();
      for (const [linkId, approver] of Object.entries(approval.links)) {
        const token = await signLink(key, { approvalId: approval.id, approver, linkId, expiresAt: approval.expiresAt }, now);
        await mailer.send(approvalMailFor(approval, approver, linkUrl(base, approval.id, token), name));
      }
      await store.markNotified(approval.id, { action: 'notified', by: 'gatehouse', at: now, comment: approval.approvers.join(', ') });
      return true;
    } catch (error) {
      log(`mailing the approvers of ${approval.id} failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  function newApproval(req: ReviewRequest, fingerprint: string, bodySha256: string, body: BodySummary, approvers: string[]): Approval {
    const now = clock.now();
    const review = req.decision.review;
    const id = newId();
    const links = Object.fromEntries(approvers.map((approver) => [randomBytes(12).toString('base64url'), approver]));
    return {
      id,
      fingerprint,
      status: 'pending',
      requester: { user: req.identity.user, groups: [...req.identity.groups] },
      ...(req.impersonator === undefined ? {} : { impersonator: { user: req.impersonator.user, groups: [...req.impersonator.groups] } }),
      target: requestTarget(req, bodySha256),
      kubectlCommand: req.kubectlCommand,
      kubectlSession: req.kubectlSession,
      ...(req.agent === undefined ? {} : { agent: { ...req.agent } }),
      body,
      rule: req.decision.rule,
      // The rule's own words; the rule is named beside it.
      reason: review?.reason ?? req.decision.reason,
      approvers,
      grant: review?.grant ?? 'once',
      windowSeconds: review?.windowSeconds ?? 0,
      grantSeconds: options.ttlSeconds,
      createdAt: now,
      expiresAt: now + options.ttlSeconds * 1000,
      useCount: 0,
      links,
      events: [{ action: 'requested', by: (req.impersonator ?? req.identity).user, at: now }],
    };
  }

  /** One pass of the decision table in the header; loops only when a concurrent request won a race. */
  async function reviewOnce(req: ReviewRequest, fingerprint: string, bodySha256: string, body: BodySummary): Promise<{ result: ReviewResult; approval?: Approval }> {
    const base = linkBase(req);
    for (let round = 0; round < MAX_RACE_ROUNDS; round++) {
      const now = clock.now();
      const currentId = await store.currentFor(fingerprint);
      const current = currentId === undefined ? undefined : await store.get(currentId);
      if (current !== undefined && current.fingerprint === fingerprint && samePerson(current.requester.user, req.identity.user)) {
        const status = effectiveStatus(current, now);
        if (status === 'approved') {
          try {
            const used = await store.consume(current.id, current.grant, now, newUseId());
            return { result: { outcome: { ...toOutcome(used, now), status: used.status === 'consumed' ? 'consumed' : 'approved' } }, approval: used };
          } catch (error) {
            if (!(error instanceof GatehouseError)) throw error;
            if (error.code === 'ERR_GRANT_ALREADY_USED') {
              return { result: { outcome: { ...toOutcome(current, now), status: 'consumed' }, refusal: error }, approval: current };
            }
            if (error.code !== 'ERR_APPROVAL_EXPIRED') throw error;
            continue; // the grant ran out between read and write: read again, then ask anew
          }
        }
        if (status === 'pending') {
          const notified = current.notifiedAt !== undefined || (await notify(current, base));
          return { result: { outcome: toOutcome(current, now), refusal: approvalRequired(current, { notified }) }, approval: current };
        }
        if (status === 'denied') {
          return { result: { outcome: toOutcome(current, now), refusal: approvalDenied(current) }, approval: current };
        }
        if (status === 'expired' && current.status === 'pending') {
          await store.expire(current.id, now).catch(() => undefined); // keeps the expiry in its history; a race here is harmless
        }
      }
      const approvers = (req.decision.review?.approvers ?? []).filter(
        (a) => !samePerson(a, req.identity.user) && (req.impersonator === undefined || !samePerson(a, req.impersonator.user)),
      );
      if (approvers.length === 0) {
        throw new GatehouseError(
          'ERR_APPROVAL_REQUIRED',
          `user "${req.identity.user}" may not ${req.request.verb} ${req.request.resource || req.request.path} without approval ` +
            `(rule "${req.decision.rule}"), and the rule names no approver other than the requester`,
        );
      }
      const approval = newApproval(req, fingerprint, bodySha256, body, approvers);
      await store.create(approval);
      if (!(await store.claimFingerprint(fingerprint, approval.id, currentId, approval.expiresAt))) {
        await store.discard(approval.id); // a concurrent run of the same command started one first: use that
        continue;
      }
      const notified = await notify(approval, base);
      return { result: { outcome: toOutcome(approval, now), refusal: approvalRequired(approval, { notified }) }, approval };
    }
    throw new GatehouseError('ERR_INTERNAL', `approvals: too many concurrent changes to the approval of this request; try again`);
  }

  async function hold(req: ReviewRequest, fingerprint: string, bodySha256: string, body: BodySummary, pending: Approval, first: ReviewResult): Promise<ReviewResult> {
    const deadline = clock.now() + options.holdSeconds * 1000;
    while (clock.now() < deadline) {
      await wait(Math.min(pollIntervalMs, Math.max(0, deadline - clock.now())));
      const now = clock.now();
      const latest = await store.get(pending.id);
      if (latest === undefined) break;
      const status = effectiveStatus(latest, now);
      if (status === 'pending') continue;
      if (status === 'expired') {
        return {
          outcome: toOutcome(latest, now),
          refusal: new GatehouseError('ERR_APPROVAL_EXPIRED', `approval ${latest.id} expired at ${iso(latest.expiresAt)} without a decision; running the command again asks anew`),
        };
      }
      return (await reviewOnce(req, fingerprint, bodySha256, body)).result;
    }
    return first;
  }

  async function open(approvalId: string, linkToken: string): Promise<OpenedLink> {
    const key = await signingKey.key();
    const claims = await verifyLink(key, linkToken, approvalId, clock.now());
    const approval = await store.get(approvalId);
    if (approval === undefined) {
      throw new GatehouseError('ERR_APPROVAL_NOT_FOUND', `approval ${approvalId} does not exist (any more)`);
    }
    const issuedTo = approval.links[claims.linkId];
    if (issuedTo === undefined || !samePerson(issuedTo, claims.approver)) {
      throw new GatehouseError('ERR_APPROVAL_LINK_INVALID', `this approval link is not valid: approval ${approvalId} never issued it`);
    }
    return { approval, approver: issuedTo, formToken: formTokenFor(key, claims.linkId), name };
  }

  return {
    maxBodyBytes: options.maxBodyBytes ?? 1048576,

    publicOrigin() {
      const configured = typeof configuredUrl === 'function' ? configuredUrl() : configuredUrl;
      return configured === undefined || configured === '' || !URL.canParse(configured) ? undefined : new URL(configured).origin;
    },

    async review(req) {
      const bodySha256 = req.body.byteLength === 0 ? '' : sha256Hex(req.body);
      const fingerprint = requestFingerprint({
        user: req.identity.user,
        ...(req.impersonator === undefined ? {} : { impersonator: req.impersonator.user }),
        ...requestTarget(req, bodySha256),
      });
      const body = summarizeBody(req.body, req.contentType, req.request, req.masking);
      if (body.kind === 'unshowable') throw bodyUnshowable(req, body);
      const { result, approval } = await reviewOnce(req, fingerprint, bodySha256, body);
      if (options.holdSeconds > 0 && approval !== undefined && result.outcome.status === 'pending') {
        return hold(req, fingerprint, bodySha256, body, approval, result);
      }
      return result;
    },

    open,

    async state(approvalId, requester) {
      const approval = await store.get(approvalId);
      if (approval === undefined || !samePerson(approval.requester.user, requester)) return undefined;
      return {
        status: effectiveStatus(approval, clock.now()),
        ...(approval.decidedBy === undefined ? {} : { decidedBy: approval.decidedBy }),
        ...(approval.comment === undefined || approval.comment === '' ? {} : { comment: approval.comment }),
        expiresAt: approval.expiresAt,
      };
    },

    async decide(input: DecideInput) {
      const opened = await open(input.approvalId, input.linkToken);
      if (!formTokenMatches(opened.formToken, input.formToken)) {
        throw new GatehouseError(
          'ERR_APPROVAL_LINK_INVALID',
          'this decision did not come from the approval page: its form token is missing or does not match the link',
        );
      }
      const now = clock.now();
      assertDecidable(opened.approval, opened.approver, now);
      if (input.verdict === 'approve' && !bodyDecidable(opened.approval.body)) {
        throw new GatehouseError(
          'ERR_APPROVAL_BODY_UNSHOWABLE',
          `approval ${opened.approval.id} cannot be approved: its body cannot be shown as the API server will read it (${opened.approval.body.reason ?? opened.approval.body.contentType}); it can only be denied`,
        );
      }
      return store.decide(opened.approval.id, {
        verdict: input.verdict,
        by: opened.approver,
        at: now,
        // The comment reaches the requester's terminal in kubectl's error message: printable only.
        comment: printable(input.comment.trim().slice(0, MAX_COMMENT_CHARS)),
        expiresAt: expiryAfterDecision(opened.approval, input.verdict, now),
      });
    },
  };
}

/** What a review request asks for: the approval's target, and (with the user) what its fingerprint binds. */
function requestTarget(req: ReviewRequest, bodySha256: string): ApprovalTarget {
  return {
    cluster: req.request.cluster,
    method: req.method,
    contentType: req.contentType,
    verb: req.request.verb,
    apiGroup: req.request.apiGroup,
    apiVersion: req.request.apiVersion,
    resource: req.request.resource,
    subresource: req.request.subresource,
    namespace: req.request.namespace,
    name: req.request.name,
    path: req.request.path,
    query: req.rawQuery,
    bodySha256,
  };
}
