/**
 * Adds `value` to `key`'s group, in place. Not `set(key, [...old, v])`: that
 * copies the group at every row, quadratic in its size (an invoice of 44,640
 * one-off dyno lines took 15 s of a blocked event loop to read).
 */
export function appendTo<K, V>(groups: Map<K, V[]>, key: K, value: V): void {
  const group = groups.get(key);
  if (group) group.push(value);
  else groups.set(key, [value]);
}
