// Progress lines are logfmt, shaped as every other line of the vault's output (app=, at=, event=), so a log
// pipeline keyed on `event` keeps them; `msg` stays for people. They are the vault CLI's (`vault kafka`).
import { logfmt as format, type LogValue } from '@vault/runtime/logfmt';

export type Log = (line: string) => void;

export const silent: Log = () => {};

/** `app=vault at=<level> event=kafka.<event> msg=<msg> …fields`. */
export function logfmt(level: 'info' | 'warn' | 'error', event: string, msg: string, fields: Record<string, LogValue> = {}): string {
  return format({ app: 'vault', at: level, event: `kafka.${event}`, msg, ...fields });
}
