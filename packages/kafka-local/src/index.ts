// Local single-node Kafka (KRaft) for development and tests, built from Maven Central jars.
export { startKafka, stopKafka, kafkaStatus, StartInterrupted } from './broker.ts';
export type { StartOptions, StartResult, StatusResult } from './broker.ts';
export { ensureKafkaFetched, KAFKA_VERSION } from './resolve.ts';
export type { FetchOptions, KafkaDist } from './resolve.ts';
export { defaultCacheDir } from './paths.ts';
export { isAlive } from './process.ts';
export { logfmt } from './log.ts';
export type { Log } from './log.ts';
