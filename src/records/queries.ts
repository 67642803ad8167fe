/**
 * Ready Athena queries for an access review, over the Glue table infra/records.ts creates
 * (`gatehouse.session_records`). docs/records.md shows exactly these texts, and the tests run
 * exactly these texts with DuckDB over records Gatehouse wrote, so the documented queries are
 * known to work. Edit the date range and the names in quotes; `dt` bounds the partitions
 * Athena scans (and so the cost), and so does `cluster` where a Gatehouse fronts several
 * clusters (add `AND cluster = 'prod'`).
 *
 * Only SQL that Athena (Trino) and DuckDB read the same way: plain SELECT/WHERE/ORDER BY,
 * IN, IS NULL, NOT EXISTS, string comparisons.
 */

export interface AccessReviewQuery {
  id: string;
  title: string;
  /** What the answer means, for the doc. */
  description: string;
  sql: string;
}

export const RECORDS_DATABASE = 'gatehouse';
export const RECORDS_TABLE = 'session_records';
const TABLE = `${RECORDS_DATABASE}.${RECORDS_TABLE}`;

/** The queries over another Glue database (a stack's own, infra/records.ts): the table's name is the same. */
export function accessReviewQueriesFor(database: string): AccessReviewQuery[] {
  return ACCESS_REVIEW_QUERIES.map((query) => ({ ...query, sql: query.sql.replaceAll(`FROM ${TABLE}`, `FROM ${database}.${RECORDS_TABLE}`) }));
}

export const ACCESS_REVIEW_QUERIES: readonly AccessReviewQuery[] = [
  {
    id: 'who-ran-what-in-a-namespace',
    title: 'Who ran what in a namespace',
    description:
      'Every call into one namespace in a date range, in order, with the cluster and the kubectl command it belonged to and how it ended (add `AND cluster = \'<name>\'` for one cluster of several: it bounds the scan like `dt`). Group by (`user_name`, `kubectl_session`) to see whole kubectl invocations: the session id is what the client claims, so never group by it alone.',
    sql: `SELECT started_at, cluster, user_name, kubectl_command, kubectl_session, verb, resource, subresource, object_name, decision, status_code
FROM ${TABLE}
WHERE dt BETWEEN '2025-03-01' AND '2025-03-31'
  AND phase = 'outcome'
  AND namespace = 'payments'
ORDER BY started_at, request_id`,
  },
  {
    id: 'approved-calls',
    title: 'Every approved call, with its approver',
    description: 'Calls that policy sent for review and a person approved: who asked, what ran, who approved it and when.',
    sql: `SELECT started_at, user_name, verb, resource, subresource, namespace, object_name, policy_rule, approval_id, approver, approval_decided_at, status_code
FROM ${TABLE}
WHERE dt BETWEEN '2025-03-01' AND '2025-03-31'
  AND phase = 'outcome'
  AND decision = 'review'
  AND approval_status IN ('approved', 'consumed')
ORDER BY started_at, request_id`,
  },
  {
    id: 'denied-calls',
    title: 'Every denied call',
    description:
      'Calls refused by Gatehouse (policy deny, approval required or refused, failed authentication) or by the cluster (RBAC 403), with the rule and the message the caller saw.',
    sql: `SELECT started_at, user_name, source_ip, verb, resource, namespace, object_name, decision, policy_rule, status_code, error_code, error_message
FROM ${TABLE}
WHERE dt BETWEEN '2025-03-01' AND '2025-03-31'
  AND phase = 'outcome'
  AND (decision = 'deny' OR status_code IN (401, 403))
ORDER BY started_at, request_id`,
  },
  {
    id: 'secret-reads',
    title: 'All Secret reads',
    description:
      'Every get, list and watch of Secrets (values are masked in responses and records; `unmasked_grant` shows break-glass reads that saw them).',
    sql: `SELECT started_at, user_name, verb, namespace, object_name, decision, status_code, unmasked_grant
FROM ${TABLE}
WHERE dt BETWEEN '2025-03-01' AND '2025-03-31'
  AND phase = 'outcome'
  AND api_group = ''
  AND resource = 'secrets'
  AND verb IN ('get', 'list', 'watch')
ORDER BY started_at, request_id`,
  },
  {
    id: 'changes-without-outcome',
    title: 'Changes that started but have no outcome',
    description:
      'Records of intent without an outcome record: Gatehouse stopped (or lost its outcome record) after deciding to forward a change. Check these against the cluster audit log.',
    sql: `SELECT i.started_at, i.user_name, i.verb, i.resource, i.namespace, i.object_name, i.request_id
FROM ${TABLE} i
WHERE i.dt BETWEEN '2025-03-01' AND '2025-03-31'
  AND i.phase = 'intent'
  AND NOT EXISTS (
    SELECT 1 FROM ${TABLE} o
    WHERE o.dt BETWEEN '2025-03-01' AND '2025-03-31'
      AND o.phase = 'outcome'
      AND o.request_id = i.request_id
  )
ORDER BY i.started_at, i.request_id`,
  },
];
