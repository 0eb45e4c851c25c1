export * from './bus.ts';
export * from './partitioner.ts';
export { nonTextHeaders, textHeaders } from './headers.ts';
export { createEmbeddedBus, BUS_SCHEMA, type EmbeddedBus } from './embedded-bus.ts';
export type { TrimmedPartition } from './embedded-trim.ts';
export { createKafkaBus } from './kafka-bus.ts';
export { BusUnreachableError } from './kafka-reach.ts';
export { busEventLevel, createBus, type BusConfig } from './create-bus.ts';
