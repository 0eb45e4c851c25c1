// Progress lines are logfmt so they stay grep-able next to the rest of the vault's output.
export type Log = (line: string) => void;

export const silent: Log = () => {};

type Value = string | number | boolean | undefined;

function fmtValue(v: Value): string {
  const s = String(v);
  return /^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s);
}

export function logfmt(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, Value> = {}): string {
  const parts = [`at=${level}`, `msg=${fmtValue(msg)}`];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${fmtValue(v)}`);
  return parts.join(' ');
}
