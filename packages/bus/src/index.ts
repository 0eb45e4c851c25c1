export * from './bus.ts';
export * from './partitioner.ts';
export { createEmbeddedBus, BUS_SCHEMA } from './embedded-bus.ts';
export { createKafkaBus } from './kafka-bus.ts';
export { BusUnreachableError } from './kafka-reach.ts';
export { createBus, type BusConfig } from './create-bus.ts';
