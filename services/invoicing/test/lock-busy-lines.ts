// What an app loop says while another session holds its lock (packages/db LockBusy): shared by
// the loop tests, so each states only which loop and which holder.
import assert from 'node:assert/strict';

/** At least two ticks skipped, each at info, saying another pass is running and naming the holder's application_name. */
export function assertSkippedAtInfo(lines: readonly string[], event: string, holder: string): void {
  const skipped = lines.filter((l) => l.includes(`event=${event}`));
  assert.ok(skipped.length >= 2, `one line a tick that timed out:\n${lines.join('\n')}`);
  for (const line of skipped) {
    assert.match(line, /at=info/);
    assert.match(line, /reason="another pass is running"/);
    assert.match(line, new RegExp(`holder="pid \\d+ \\(${holder}\\)"`));
  }
}
