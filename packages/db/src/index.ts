export * from './embedded.ts';
export * from './migrate.ts';
export * from './database.ts';
export * from './transaction.ts';
export * from './session-lock.ts';
export * from './copy-text.ts';
export * from './array-literal.ts';
export * from './migration-checksums.ts';
