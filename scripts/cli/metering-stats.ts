import { MeteringStats } from '@vault/contracts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until metering has applied everything on the bus: consumer lag 0 and
 * the applied count unchanged across two polls (a batch can be in flight
 * between the bus's commit and the counters).
 */
export async function waitForMetering(
  meteringUrl: string,
  adminToken: string,
  stopped: () => boolean,
  timeoutMs = 180_000,
): Promise<MeteringStats> {
  const deadline = Date.now() + timeoutMs;
  let previous: MeteringStats | undefined;
  for (;;) {
    if (stopped()) throw new Error('stopped while waiting for metering');
    const res = await fetch(new URL('/v1/stats', meteringUrl), { headers: { authorization: `Bearer ${adminToken}` } }).catch(
      () => undefined,
    );
    if (res?.ok) {
      const stats = MeteringStats.parse(await res.json());
      if (stats.consumer_lag === 0 && previous?.consumer_lag === 0 && previous.events_applied === stats.events_applied) return stats;
      previous = stats;
    }
    if (Date.now() > deadline)
      throw new Error(`metering did not catch up within ${timeoutMs / 1000}s (last stats: ${JSON.stringify(previous)})`);
    await sleep(300);
  }
}
