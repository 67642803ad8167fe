/**
 * `gatehouse sessions list|replay`: kubectl sessions from the session records, and the
 * replay of one — its commands in order, each call with its decision and a summary of its
 * masked response. Records come from S3 (`--source s3://bucket/prefix/`, the default AWS
 * credentials) or from a local Gatehouse's state dir (`--local`, the default), read through
 * the same S3 adapter (the local stand-in is started on the state dir for the read).
 *
 * `replay` also plays the recordings of the session's exec/attach calls (their `recording_key`)
 * in the terminal with their original timing (`--speed`, `--idle-limit`; `--no-play` lists
 * only). The recordings are read from the same bucket as the records.
 *
 * Exit codes: 0 done, 1 records unreadable or the session not found, 2 bad usage.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { addCommand } from './commands.ts';
import { createS3Records } from '../adapters/s3-records.ts';
import { createS3RecordingObjects } from '../adapters/s3-recordings.ts';
import type { RecordArchive } from '../ports/records.ts';
import { readRecording } from '../recordings/read.ts';
import type { RecordingObjects } from '../recordings/store.ts';
import { playCast } from '../recordings/terminal-player.ts';
import { ALL_SESSIONS, MAX_VIEW_LINK_SECONDS, signViewLink, viewLinkUrl } from '../recordings/view-link.ts';
import { createFileSigningKey, LOCAL_SIGNING_KEY_FILE } from '../local/signing-key.ts';
import type { SigningKeyProvider } from '../ports/approvals.ts';
import { describeRecordsBucket, localStateDir, openRecordsBucket, UsageError, runCommand } from './records-bucket.ts';
import type { RecordQuery } from '../ports/records.ts';
import { UNROUTED_CLUSTER } from '../records/layout.ts';
import { CLUSTER_NAME } from '../cluster-route.ts';
import type { SessionRecord } from '../records/schema.ts';
import { printable, printableJson, printableLines } from '../printable.ts';
import { describeCall, formatReplay, formatSessionList, listSessions, replaySession } from '../records/sessions.ts';
import type { SessionFilter } from '../records/sessions.ts';

interface SourceFlags {
  source?: string;
  local?: string;
  region?: string;
  endpoint?: string;
  since?: string;
  until?: string;
  cluster?: (string | null)[];
  json?: boolean;
}

interface ListFlags extends SourceFlags {
  user?: string;
  namespace?: string;
}

interface ReplayFlags extends SourceFlags {
  bodies?: boolean;
  user?: string;
  play?: boolean;
  speed?: number;
  idleLimit?: number;
}

const DEFAULT_LIST_WINDOW = '7d';

export function registerSessions(program: Command): void {
  const sessions = addCommand(program, 'sessions');
  registerSessionsLink(sessions);

  withSourceOptions(
    sessions
      .command('list')
      .description('list sessions (one per kubectl invocation), oldest first')
      .option('--user <name>', 'only sessions of this user')
      .option('--namespace <name>', 'only sessions that touched this namespace'),
  ).action(async (flags: ListFlags) => {
    await run(async () => {
      const filter = timeFilter(flags, DEFAULT_LIST_WINDOW);
      if (flags.user !== undefined) filter.user = flags.user;
      if (flags.namespace !== undefined) filter.namespace = flags.namespace;
      const source = await openSource(flags);
      let found;
      try {
        found = listSessions(await readRecords(source.archive, filter), filter);
      } finally {
        await source.close();
      }
      process.stdout.write(flags.json === true ? found.map((s) => `${printableJson(s)}\n`).join('') : formatSessionList(found));
      return 0;
    });
  });

  withSourceOptions(
    sessions
      .command('replay')
      .description('replay one session: its commands in order, each call with its decision and masked response')
      .argument('<session-id>', 'a SESSION from `gatehouse sessions list` (the Kubectl-Session id the client sent), or `last` for the latest one')
      .option('--user <name>', 'only the calls of this user under that session id (each user\'s calls are shown apart anyway)')
      .option('--bodies', 'also print the recorded (masked, cut) request and response bodies')
      .option('--no-play', 'do not play the recordings of exec/attach calls, only list them')
      .option('--speed <factor>', 'play recordings this many times faster (0.5 = half speed)', positiveNumber('--speed'), 1)
      .option('--idle-limit <seconds>', 'shorten every pause in a recording to at most this long', positiveNumber('--idle-limit')),
  ).action(async (sessionId: string, flags: ReplayFlags) => {
    await run(async () => {
      const filter = timeFilter(flags, undefined);
      const source = await openSource(flags);
      try {
        const records = await readRecords(source.archive, filter);
        if (sessionId === 'last') sessionId = listSessions(records, filter).at(-1)?.sessionId ?? 'last';
        const sessions = replaySession(records, sessionId, flags.user);
        if (sessions.length === 0) {
          const whose = flags.user === undefined ? '' : ` of user "${flags.user}"`;
          const clusters = flags.cluster === undefined ? '' : ` for cluster ${flags.cluster.map((c) => c ?? UNROUTED_CLUSTER).join(', ')}`;
          process.stderr.write(printableLines(`gatehouse sessions replay: no records of session "${sessionId}"${whose}${clusters} in ${await describeRecordsBucket(flags)}${flags.since === undefined ? '' : ` since ${flags.since}`}\n`));
          return 1;
        }
        const calls = sessions.flatMap((session) => session.commands.flatMap((c) => c.calls));
        if (flags.json === true) {
          process.stdout.write(calls.map((call) => `${printableJson(call.record)}\n`).join(''));
          return 0;
        }
        process.stdout.write(formatReplay(sessionId, sessions, { bodies: flags.bodies === true }));
        if (flags.play === false) return 0;
        for (const { record } of calls) {
          if (record.recording_key === null) continue;
          process.stdout.write(printableLines(`\n--- recording of ${describeCall(record)} by ${record.user_name ?? 'unknown'} (${record.request_id}), ${record.started_at} ---\n`));
          let cast;
          try {
            cast = await readRecording(source.objects, record.recording_key);
          } catch (error) {
            // One missing or unreadable recording does not hide the others.
            process.stdout.write(printableLines(`(not played: ${error instanceof Error ? error.message : String(error)})\n`));
            continue;
          }
          await playCast(cast, {
            speed: flags.speed ?? 1,
            ...(flags.idleLimit === undefined ? {} : { idleLimit: flags.idleLimit }),
            sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
            write: (text) => process.stdout.write(text),
          });
          process.stdout.write(printableLines(`\n--- end of recording (${record.stream_end_reason ?? 'no end reason recorded'}) ---\n`));
        }
        return 0;
      } finally {
        await source.close();
      }
    });
  });
}

interface LinkFlags {
  viewer: string;
  url: string;
  date?: string;
  ttl: string;
  local?: string;
  keyFile?: string;
  signingSecret?: string;
  region?: string;
}

/**
 * `gatehouse sessions link`: a signed link to the recordings pages for one viewer, signed with
 * the approval-link key (only who can read that key can mint one).
 */
export function registerSessionsLink(sessions: Command): void {
  sessions
    .command('link')
    .description('print a signed link to the recordings page: every recorded session, or one (with its request id and --date)')
    .argument('[request-id]', 'the request id of one exec/attach/port-forward call (its record\'s request_id); none: the list of sessions')
    .requiredOption('--viewer <name>', 'who the link is for (shown on the page)')
    .requiredOption('--url <public-url>', 'the public URL of the Gatehouse that serves the pages (e.g. https://gatehouse.example.com)')
    .option('--date <YYYY-MM-DD>', 'the UTC day the call started (its record\'s dt); needed with a request id')
    .option('--ttl <age>', 'how long the link works: 30m, 4h, at most 24h', '1h')
    .option('--local <state-dir>', 'sign with the key of a local Gatehouse (default: the state dir `gatehouse serve` uses by default)')
    .option('--key-file <path>', 'sign with this key file (approvals.signingKeyFile)')
    .option('--signing-secret <id>', 'sign with this Secrets Manager secret (approvals.signingSecretId; default AWS credentials)')
    .option('--region <region>', 'region of the secret')
    .action(async (requestId: string | undefined, flags: LinkFlags) => {
      await run(async () => {
        if (requestId !== undefined && (flags.date === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(flags.date))) {
          throw new UsageError('a link to one recording needs --date YYYY-MM-DD, the UTC day its call started');
        }
        const ttl = /^(\d+)([mh])$/.exec(flags.ttl);
        const ttlMs = ttl === null ? NaN : Number(ttl[1]) * (ttl[2] === 'h' ? 3_600_000 : 60_000);
        if (!(ttlMs > 0 && ttlMs <= MAX_VIEW_LINK_SECONDS * 1000)) throw new UsageError(`--ttl must be an age in minutes or hours (30m, 4h) of at most 24h, not "${flags.ttl}"`);
        if ([flags.local, flags.keyFile, flags.signingSecret].filter((v) => v !== undefined).length > 1) throw new UsageError('give one of --local, --key-file or --signing-secret');
        let url: URL;
        try {
          url = new URL(flags.url);
        } catch {
          throw new UsageError(`--url must be a URL, not "${flags.url}"`);
        }
        const key = await (await linkKey(flags)).key();
        const now = Date.now();
        const token = await signViewLink(key, { viewer: flags.viewer, scope: requestId ?? ALL_SESSIONS, expiresAt: now + ttlMs }, now);
        const target = requestId === undefined || flags.date === undefined ? undefined : { date: flags.date, requestId };
        process.stdout.write(`${viewLinkUrl(url.href, token, target)}\n`);
        return 0;
      });
    });
}

async function linkKey(flags: LinkFlags): Promise<SigningKeyProvider> {
  if (flags.signingSecret !== undefined) {
    const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const { createSecretsManagerSigningKey } = await import('../adapters/secrets-manager-signing-key.ts');
    return createSecretsManagerSigningKey(new SecretsManagerClient(flags.region === undefined ? {} : { region: flags.region }), flags.signingSecret);
  }
  const path = flags.keyFile ?? join(await localStateDir(flags), LOCAL_SIGNING_KEY_FILE);
  if (!existsSync(path)) throw new Error(`no link key at ${path}: give the key Gatehouse signs approval links with (--key-file, --signing-secret), or --local <state-dir> of a Gatehouse that has run`);
  return createFileSigningKey(path);
}

function positiveNumber(flag: string): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${flag} must be a positive number`);
    return number;
  };
}

function withSourceOptions(command: Command): Command {
  return command
    .option('--source <s3-url>', 'records in S3, e.g. s3://my-records-bucket/records/ (default AWS credentials)')
    .option('--local <state-dir>', 'records of a local Gatehouse (default: the state dir `gatehouse serve` uses by default)')
    .option('--region <region>', 'region of the --source bucket')
    .option('--endpoint <url>', 'S3 endpoint of the --source bucket (S3-compatible stores)')
    .option('--since <time>', 'calls from this time: ISO 8601 (2025-03-01, 2025-03-01T12:00:00Z) or an age (30m, 12h, 7d)', parseTimeFlag)
    .option('--until <time>', 'calls up to this time (same forms as --since)', parseTimeFlag)
    .option(
      '--cluster <name>',
      `only calls to this cluster (its name under /clusters/<name>, in policy and records; ${UNROUTED_CLUSTER} for calls that named none); repeat for several. Reads only their record partitions`,
      collectCluster,
    )
    .option('--json', 'JSON Lines instead of text');
}

/** Commander hands each `--cluster` through this: a cluster name (or `_unrouted`, read as null), collected. */
function collectCluster(value: string, previous: (string | null)[] | undefined): (string | null)[] {
  if (value !== UNROUTED_CLUSTER && !CLUSTER_NAME.test(value)) {
    throw new InvalidArgumentError(`"${printable(value)}" is not a cluster name (letters, digits, "-" and "_", starting with a letter or digit), nor ${UNROUTED_CLUSTER}`);
  }
  return [...(previous ?? []), value === UNROUTED_CLUSTER ? null : value];
}

function run(body: () => Promise<number>): Promise<void> {
  return runCommand('gatehouse sessions', body);
}

/** Commander hands `--since/--until` through this: an ISO time, or an age before now. */
function parseTimeFlag(value: string): string {
  const iso = parseTime(value, Date.now());
  if (iso === undefined) throw new InvalidArgumentError('expected an ISO 8601 date/time (2025-03-01, 2025-03-01T12:00:00Z) or an age (30m, 12h, 7d)');
  return iso;
}

/** `7d` → the ISO time 7 days before `nowMs`; `2025-03-01` → its midnight UTC; undefined when unreadable. */
export function parseTime(value: string, nowMs: number): string | undefined {
  const age = /^(\d+)([smhd])$/.exec(value.trim());
  if (age !== null) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(nowMs - Number(age[1]) * unit).toISOString();
  }
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00Z` : value.trim());
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function timeFilter(flags: SourceFlags, defaultSince: string | undefined): SessionFilter {
  const filter: SessionFilter = {};
  const since = flags.since ?? (defaultSince === undefined ? undefined : parseTime(defaultSince, Date.now()));
  if (since !== undefined) filter.since = since;
  if (flags.until !== undefined) filter.until = flags.until;
  if (flags.cluster !== undefined) filter.clusters = flags.cluster;
  return filter;
}

/** Where the records and recordings are: the records bucket by URL, or the local stand-in started over a state dir for the read. */
interface Source {
  archive: RecordArchive;
  objects: RecordingObjects;
  close(): Promise<void>;
}

async function openSource(flags: SourceFlags): Promise<Source> {
  const { bucket, prefix, clientConfig, close } = await openRecordsBucket(flags);
  return {
    archive: createS3Records({ bucket, prefix, clientConfig }),
    objects: createS3RecordingObjects({ bucket, clientConfig }),
    close,
  };
}

/** Reads the records of the partitions the time filter spans (all partitions without --since). */
async function readRecords(archive: RecordArchive, filter: SessionFilter): Promise<SessionRecord[]> {
  const query: RecordQuery = {};
  if (filter.since !== undefined) query.fromDate = filter.since.slice(0, 10);
  if (filter.until !== undefined) query.toDate = filter.until.slice(0, 10);
  if (filter.clusters !== undefined) query.clusters = filter.clusters;
  return collect(archive.read(query));
}

async function collect(records: AsyncIterable<SessionRecord>): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}
