// Progress lines are logfmt so they stay grep-able next to the rest of the vault's output.
import { logfmt as format, type LogValue } from '@vault/runtime/logfmt';

export type Log = (line: string) => void;

export const silent: Log = () => {};

export function logfmt(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, LogValue> = {}): string {
  return format({ at: level, msg, ...fields });
}
