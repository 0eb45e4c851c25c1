export * from './events.ts';
export * from './reasons.ts';
export * from './parse.ts';
export * from './time.ts';
export * from './json-schema.ts';
export * from './metering-api.ts';
export * from './invoicing-api.ts';
