export * from './csv.ts';
export * from './tables.ts';
export * from './stream.ts';
