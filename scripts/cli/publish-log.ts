// The progress lines of `vault publish` and `vault simulate` (logfmt, as the CLI's log), on stderr:
// stdout holds the summary alone, so `vault publish big.ndjson | head -1` reads it, and a reader
// that quits after the first progress line no longer ends the publish part-way (EPIPE).
import { createLogger } from '@vault/runtime';

export const progressLog = createLogger({ app: 'vault' }, (line) => {
  process.stderr.write(`${line}\n`);
});
