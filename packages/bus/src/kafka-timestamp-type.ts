import type { Admin } from 'kafkajs';

// kafkajs's ConfigResourceTypes.TOPIC and ConfigSource.TOPIC_CONFIG (its enums are not ESM exports).
const TOPIC = 2;
const SET_ON_TOPIC = 1;

const TIMESTAMP_TYPE = 'message.timestamp.type';
const LOG_APPEND_TIME = 'LogAppendTime';

/**
 * Sets an existing topic's `message.timestamp.type` to LogAppendTime when it is not already,
 * and resolves to what it was. kafkajs has only the full AlterConfigs (no incremental one),
 * which replaces every config set on the topic: the topic's own ones (retention.ms, ...) are
 * read first and sent again unchanged (a change an operator makes between the two is lost: once,
 * at most, per topic). Records already in the log keep the stamps they have.
 */
export async function useLogAppendTime(admin: Admin, topic: string): Promise<string> {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: TOPIC, name: topic }],
    includeSynonyms: false,
  });
  const entries = resources[0]?.configEntries ?? [];
  const was = entries.find((e) => e.configName === TIMESTAMP_TYPE)?.configValue ?? 'CreateTime';
  if (was === LOG_APPEND_TIME) return was;
  const own = entries.filter((e) => e.configSource === SET_ON_TOPIC && e.configName !== TIMESTAMP_TYPE);
  // A value the broker does not show (sensitive) could not be sent again: it would be lost.
  const hidden = own.find((e) => e.isSensitive || e.configValue === null);
  if (hidden) throw new Error(`topic ${topic}: config ${hidden.configName} is hidden, so it cannot be kept by a full alter`);
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: TOPIC,
        name: topic,
        configEntries: [
          ...own.map((e) => ({ name: e.configName, value: e.configValue })),
          { name: TIMESTAMP_TYPE, value: LOG_APPEND_TIME },
        ],
      },
    ],
  });
  return was;
}
