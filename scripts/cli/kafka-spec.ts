// `vault kafka`: its usage and options, apart from what it does (kafka.ts), so that
// `vault help` and `--help` load this alone.
import type { GroupSpec } from './command.ts';

export const kafkaSpec: GroupSpec = {
  name: 'kafka',
  summary: 'a local single-node Kafka broker for development, its state under VAULT_HOME/kafka',
  details: 'env: KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1), VAULT_CACHE_DIR',
  subcommands: [
    { name: 'kafka start', summary: 'fetch Kafka (first time only) and run a local broker; prints KAFKA_BROKERS=...' },
    { name: 'kafka stop', summary: 'stop the local broker' },
    { name: 'kafka status', summary: 'show whether it runs (exit 0 when it answers)' },
  ],
};
