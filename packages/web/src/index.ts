export * from './html.ts';
export * from './document.ts';
export * from './cookies.ts';
export * from './sessions.ts';
export * from './session-cookie.ts';
export * from './csrf.ts';
export * from './headers.ts';
export * from './sign-in-links.ts';
