/**
 * `gatehouse records migrate-layout`: records written before clusters
 * (`<prefix>dt=YYYY-MM-DD/…`) are invisible to the Glue table and to `gatehouse sessions`, which
 * read `<prefix>cluster=<name>/dt=…/`. This moves them under the cluster they belong to, each
 * copy verified before its old object is deleted (`adapters/s3-records-migration.ts`).
 *
 * Exit codes: 0 done (or nothing to do), 1 an object failed or conflicted (named; the old object
 * is left in place), 2 bad usage.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { addCommand } from './commands.ts';
import { openRecordsBucket, runCommand } from './records-bucket.ts';
import type { BucketFlags } from './records-bucket.ts';
import { migrateRecordsLayout } from '../adapters/s3-records-migration.ts';
import { CLUSTER_NAME } from '../cluster-route.ts';
import { printable, printableLines } from '../printable.ts';

interface MigrateFlags extends BucketFlags {
  cluster: string;
  dryRun?: boolean;
  keep?: boolean;
}

export function registerRecords(program: Command): void {
  const records = addCommand(program, 'records');
  records
    .command('migrate-layout')
    .description('move records written before clusters (<prefix>dt=…/) to <prefix>cluster=<name>/dt=…/, where the Glue table and `gatehouse sessions` read them; each copy is verified before the old object is deleted')
    .requiredOption(
      '--cluster <name>',
      'the cluster the old records are of: the name a single-cluster Gatehouse records now (upstream.name, else the EKS cluster name, else "default")',
      clusterName,
    )
    .option('--source <s3-url>', 'the records bucket and prefix, e.g. s3://my-records-bucket/records/ (default AWS credentials)')
    .option('--local <state-dir>', 'the records of a local Gatehouse (default: the state dir `gatehouse serve` uses by default)')
    .option('--region <region>', 'region of the --source bucket')
    .option('--endpoint <url>', 'S3 endpoint of the --source bucket (S3-compatible stores)')
    .option('--dry-run', 'only print what would be copied and deleted (reads, no writes)')
    .option('--keep', 'keep the old objects after their copies are verified')
    .action(async (flags: MigrateFlags) => {
      await runCommand('gatehouse records migrate-layout', async () => {
        const bucket = await openRecordsBucket(flags);
        const client = new S3Client(bucket.clientConfig);
        try {
          const summary = await migrateRecordsLayout({
            client,
            bucket: bucket.bucket,
            prefix: bucket.prefix,
            cluster: flags.cluster,
            dryRun: flags.dryRun === true,
            keep: flags.keep === true,
            report: (line) => process.stdout.write(printableLines(`${line}\n`)),
          });
          const would = flags.dryRun === true ? 'would be ' : '';
          process.stdout.write(
            printableLines(
              `${flags.dryRun === true ? 'dry run: ' : ''}${summary.found} object(s) of the old layout under s3://${bucket.bucket}/${bucket.prefix}dt=…/ for cluster=${flags.cluster}: ` +
                `${summary.copied} ${would}copied, ${summary.alreadyCopied} already copied, ${summary.deleted} old ${would}deleted` +
                `${flags.keep === true ? ' (--keep)' : ''}, ${summary.conflicts.length} conflict(s), ${summary.skipped.length} other key(s) left alone\n`,
            ),
          );
          if (summary.conflicts.length === 0) return 0;
          process.stderr.write(
            printableLines(
              `gatehouse records migrate-layout: ${summary.conflicts.length} old object(s) not moved, their new key holds other content: ${summary.conflicts.map((key) => `s3://${bucket.bucket}/${key}`).join(', ')}; both were left in place\n`,
            ),
          );
          return 1;
        } finally {
          client.destroy();
          await bucket.close();
        }
      });
    });
}

function clusterName(value: string): string {
  if (!CLUSTER_NAME.test(value)) {
    throw new InvalidArgumentError(`"${printable(value)}" is not a cluster name (letters, digits, "-" and "_", starting with a letter or digit)`);
  }
  return value;
}
