// Why an event was rejected, in a form an operator can read and a program can
// match on: the field, a stable code, and a human message.
import { z } from 'zod';

export const REASON_CODES = [
  /** The text is not JSON (or not UTF-8). Field ''. */
  'not_json',
  /** The JSON value is not an object. Field ''. */
  'not_object',
  /** A required field is missing. */
  'required',
  /** A field has the wrong JSON type (e.g. a number where a string belongs, a fraction for `sequence`). */
  'invalid_type',
  /** A field is not the one value allowed (`specversion`, `datacontenttype`). */
  'invalid_value',
  /** A string is shorter than its minimum length. */
  'too_short',
  /** A string is longer than its maximum length; field '': the whole event is over 64 KiB (MAX_EVENT_BYTES). */
  'too_long',
  /** A number is below its minimum (`sequence` < 1). */
  'too_small',
  /** A number is above its maximum (`sequence` beyond 2^53 − 1). */
  'too_large',
  /** A string does not match its format (`time` without an offset, a size/service/plan that is not a slug). */
  'invalid_format',
  /** `type` is not one of the six event types. */
  'unknown_type',
  /** `time` is more than 5 minutes ahead of the receiver's clock. */
  'time_in_future',
  /** `sequence` breaks the type's rule (`dyno.started` is 1, `dyno.stopped` 2, …). */
  'sequence_mismatch',
  /** `app.owner_changed` whose `data.app_id` differs from `subject`. */
  'app_id_mismatch',
  /** The same `(source, id)` with different content. Never produced by parseEvent: the receiver's dedupe emits it. */
  'id_reused',
  /**
   * Valid by the contract, but the receiver's store cannot hold it (a U+0000 character) or
   * refused it (e.g. times that run backwards against `sequence`, overlapping usage).
   * Never produced by parseEvent.
   */
  'store_refused',
] as const;

export const ReasonCode = z.enum(REASON_CODES);
export type ReasonCode = z.infer<typeof ReasonCode>;

export const Reason = z.object({
  /** Dotted path of the offending field, e.g. `data.size`; '' for the whole message. */
  field: z.string(),
  /** Stable, machine-readable cause; one of {@link REASON_CODES}. */
  code: ReasonCode,
  /** One short human sentence, without the field name. */
  message: z.string(),
});
export type Reason = z.infer<typeof Reason>;

/** The reason the spec names for an id reused with different content, so every receiver words it the same. */
export const ID_REUSED_REASON: Reason = Object.freeze({
  field: 'id',
  code: 'id_reused',
  message: 'id reused with different content',
});

/** One human line: `data.size: required; time: must be an RFC 3339 timestamp with an offset`. */
export function formatReasons(reasons: readonly Reason[]): string {
  return reasons.map((r) => (r.field === '' ? r.message : `${r.field}: ${r.message}`)).join('; ');
}
