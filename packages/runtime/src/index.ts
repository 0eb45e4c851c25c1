export * from './logfmt.ts';
export * from './log.ts';
export * from './env.ts';
export * from './config.ts';
export * from './settings.ts';
export * from './http.ts';
export * from './app-main.ts';
export * from './auth.ts';
