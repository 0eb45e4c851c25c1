// An event's `time` as the instant it names. Offsets differ between publishers
// (`Z`, `+02:00`), so compare and store instants, never the raw strings.

/** Epoch milliseconds of an event's `time`. Digits beyond milliseconds are truncated. */
export function eventTimeMs(event: { readonly time: string }): number {
  return Date.parse(event.time);
}

/** An event's `time` normalized to UTC, e.g. `2026-10-07T12:00:00.000Z` for `2026-10-07T14:00:00+02:00`. */
export function eventTimeIso(event: { readonly time: string }): string {
  return new Date(eventTimeMs(event)).toISOString();
}
