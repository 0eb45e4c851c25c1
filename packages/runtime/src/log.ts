import { logfmt, type LogFields } from './logfmt.ts';

/**
 * Logs are an event stream: one logfmt line per event on stdout. Numbers that
 * matter go out l2met-style (`measure#metering.batch_size=500`), so a log drain
 * can chart them without a metrics client.
 */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, err?: unknown, fields?: LogFields): void;
  /** `measure#<name>=<value><unit>` */
  measure(name: string, value: number, unit?: string, fields?: LogFields): void;
  /** `count#<name>=<n>` */
  count(name: string, n?: number, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type Sink = (line: string) => void;

const stdoutSink: Sink = (line) => {
  process.stdout.write(line + '\n');
};

export function createLogger(base: LogFields = {}, sink: Sink = stdoutSink): Logger {
  const emit = (own: LogFields, fields?: LogFields, after: LogFields = {}) => sink(logfmt(merge({ ...base, ...own }, fields, after)));
  return {
    info: (event, fields) => emit({ at: 'info', event }, fields),
    warn: (event, fields) => emit({ at: 'warn', event }, fields),
    error: (event, err, fields) => emit({ at: 'error', event }, fields, errorFields(err)),
    measure: (name, value, unit = '', fields) => emit({ [`measure#${name}`]: `${value}${unit}` }, fields),
    count: (name, n = 1, fields) => emit({ [`count#${name}`]: n }, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}

/**
 * The logger's own fields, then the caller's, then `after`: a caller's field
 * named like one of the logger's (`at`, `event`, `app`, `error`…) is written as
 * `field.<name>`, never replacing it.
 */
function merge(own: LogFields, fields: LogFields = {}, after: LogFields = {}): LogFields {
  const entries = Object.entries(own);
  const reserved = new Set([...Object.keys(own), ...Object.keys(after)]);
  const taken = new Set([...reserved, ...Object.keys(fields)]);
  for (const [name, value] of Object.entries(fields)) {
    let key = name;
    // The same value again (a child's field passed once more) says nothing new.
    if (name in own && own[name] === value) continue;
    if (reserved.has(name)) {
      key = `field.${name}`;
      while (taken.has(key)) key = `field.${key}`;
      taken.add(key);
    }
    entries.push([key, value]);
  }
  return Object.fromEntries([...entries, ...Object.entries(after)]);
}

function errorFields(err: unknown): LogFields {
  if (err === undefined) return {};
  if (err instanceof Error) return { error: err.message, error_class: err.name };
  return { error: String(err) };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(base: LogFields = {}): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    createLogger(base, (l) => lines.push(l)),
    { lines },
  );
}
