// The JSON Schema of billing events, generated from the zod schemas so the
// published document (docs/contracts/events-v1.schema.json) cannot drift.
// `io: 'input'` describes what publishers may send: no `additionalProperties:
// false`, because unknown fields are accepted and ignored. Rules that depend on
// the receiver (5 minutes in the future) or span fields (app_id = subject)
// cannot be expressed here; events.md lists them.
import { z } from 'zod';
import { BillingEvent } from './events.ts';

/** The events-v1 JSON Schema (draft 2020-12) as a plain object. */
export function billingEventsJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(BillingEvent, { io: 'input', target: 'draft-2020-12' });
  const { $schema, ...rest } = schema;
  return {
    $schema,
    title: 'Platform billing events, version 1',
    description:
      'One CloudEvents 1.0 event (structured JSON mode) per message on platform.billing-events.v1. ' +
      'Also enforced by the receiver: time at most 5 minutes ahead of its clock; ' +
      'app.owner_changed data.app_id equals subject.',
    ...rest,
  };
}

/** The file content of docs/contracts/events-v1.schema.json: pretty, with a trailing newline. */
export function renderBillingEventsJsonSchema(): string {
  return `${JSON.stringify(billingEventsJsonSchema(), null, 2)}\n`;
}
