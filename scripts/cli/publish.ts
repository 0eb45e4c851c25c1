import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { publishStream } from '@vault/metering/publish';
import { UsageError } from './apps.ts';
import { withPublishTarget } from './bus-publish.ts';
import { cliLog, cliSettings } from './settings.ts';

/**
 * `vault publish [FILE]`: NDJSON events from FILE (or stdin) onto the bus,
 * exactly as `POST /v1/events` puts them. Prints each rejected line with its
 * number and reason, then a summary; exit status 1 when any line was rejected.
 */
export async function publishCommand(args: string[]): Promise<number> {
  if (args.length > 1) throw new UsageError('publish takes at most one FILE (or reads stdin)');
  const file = args[0];
  if (file !== undefined && file !== '-') {
    await access(file).catch(() => {
      throw new UsageError(`cannot read ${file}`);
    });
  }
  return withPublishTarget(cliSettings(), 'vault-publish', async (target) => {
    const input = file === undefined || file === '-' ? process.stdin : createReadStream(file);
    const started = performance.now();
    let reportAt = 50_000;
    const summary = await publishStream(target, input, {
      onProgress: (s) => {
        if (s.lines < reportAt) return;
        reportAt += 50_000;
        cliLog.info('publish.progress', { lines: s.lines, accepted: s.accepted, rejected: s.rejected.length });
      },
    });
    for (const r of summary.rejected) {
      console.error(`line ${r.index + 1}${r.id ? ` (id ${r.id})` : ''}: ${r.reason}`);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `published ${summary.lines} lines to ${target.topic} (${target.bus.kind} bus): ` +
        `${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected.length} rejected ` +
        `in ${seconds.toFixed(1)}s`,
    );
    return summary.rejected.length > 0 ? 1 : 0;
  });
}
