import type { Bus } from '@vault/bus';
import type { Logger } from '@vault/runtime';

/**
 * At metering's start: the events topic broker-stamped (LogAppendTime) whoever made it. On a
 * CreateTime topic each stamp is the producer's, which the 5-minute rule only ever takes when it
 * is earlier than our clock (receiverClock): a producer's slow clock then rejects current events.
 * Refused (no ALTER_CONFIGS right): one warning naming the command, and metering runs on.
 */
export async function useBrokerTimestamps(bus: Bus, topic: string, log: Logger): Promise<void> {
  if (!bus.useBrokerTimestamps) return;
  try {
    const was = await bus.useBrokerTimestamps(topic);
    if (was !== 'LogAppendTime') log.info('metering.topic_timestamps_set', { topic, was, now: 'LogAppendTime' });
  } catch (err) {
    log.warn('metering.topic_producer_timestamps', {
      topic,
      error: (err as Error)?.message ?? String(err),
      action:
        `kafka-configs.sh --bootstrap-server <broker> --alter --entity-type topics --entity-name ${topic} ` +
        '--add-config message.timestamp.type=LogAppendTime; until then a producer stamp earlier than the event can reject it',
    });
  }
}
