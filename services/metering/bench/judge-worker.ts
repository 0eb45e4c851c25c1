// bench:judge's worker thread: judges the batches the main thread posts and
// answers what the consumer would need back (the events, their hashes, the
// rejections), to measure what judging off the event loop costs the loop.
import { parentPort } from 'node:worker_threads';
import { judge } from '../src/domain/judge.ts';

interface Job {
  id: number;
  nowMs: number;
  messages: { bytes: Uint8Array; receivedAtMs: number }[];
}

parentPort!.on('message', (job: Job) => {
  const judged = judge(
    job.messages.map((m) => ({ bytes: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), receivedAtMs: m.receivedAtMs })),
    job.nowMs,
  );
  parentPort!.postMessage({
    id: job.id,
    valid: judged.valid.map((v) => ({ event: v.event, contentHash: v.contentHash })),
    invalid: judged.invalid.map(({ received: _received, ...rest }) => rest),
  });
});
