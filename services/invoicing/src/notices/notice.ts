// Notices (api.md "Notices"): what invoicing tells the platform, as CloudEvents
// 1.0 in structured JSON. Pure: building a notice and its event; the outbox
// (outbox.ts) stores them in the transaction of the change they tell.
import type { NoticeType as NoticeTypeSchema } from '@vault/contracts';

export const NOTICE_SOURCE = 'vault-invoicing';

/**
 * The Kafka record header of a notice: the CloudEvents Kafka binding's
 * structured mode, by which a consumer (the CloudEvents SDK's Kafka.toEvent
 * among them) knows the value is a whole event in JSON.
 */
export const NOTICE_KAFKA_HEADERS = { 'content-type': 'application/cloudevents+json; charset=utf-8' } as const;

// The types are the contract's (api.md "Notices", and invoice.carried and
// invoice.refunded beyond its list): one list, in @vault/contracts.
export type NoticeType = (typeof NoticeTypeSchema.options)[number];

/**
 * The notices the customer is emailed about. Not: account.reinstated, invoice.paid,
 * invoice.carried (the next invoice's own email and its carried line say it) and
 * invoice.refunded (the operator refunded through the gateway, which sends its receipt).
 */
export const EMAILED_TYPES: readonly NoticeType[] = [
  'invoice.finalized',
  'invoice.payment_failed',
  'invoice.action_required',
  'invoice.past_due',
  'account.suspended',
];

/** A CloudEvent as published and as `GET /v1/notices` lists it. */
export interface NoticeEvent {
  specversion: '1.0';
  id: string;
  source: typeof NOTICE_SOURCE;
  type: NoticeType;
  /** The invoice id, or the account id for account types. */
  subject: string;
  /** ISO 8601 UTC with milliseconds. */
  time: string;
  datacontenttype: 'application/json';
  data: { account_id: string } & Record<string, unknown>;
}

/** A notice to record: its id is stable, so replays and re-recordings carry the same one. */
export interface Notice {
  id: string;
  type: NoticeType;
  accountId: string;
  event: NoticeEvent;
}

/** An invoice as its notices describe it. */
export interface InvoiceFacts {
  id: string;
  accountId: string;
  number: string;
  /** YYYY-MM */
  period: string;
  currency: string;
  /** "52.58" */
  total: string;
  /** The invoice's status once the change is made. */
  status: string;
}

function notice(type: NoticeType, id: string, subject: string, at: Date, data: NoticeEvent['data']): Notice {
  return {
    id,
    type,
    accountId: data.account_id,
    event: {
      specversion: '1.0',
      id,
      source: NOTICE_SOURCE,
      type,
      subject,
      time: at.toISOString(),
      datacontenttype: 'application/json',
      data,
    },
  };
}

/**
 * A notice about an invoice. `occurrence` tells apart notices of one type
 * that may happen more than once to an invoice (each declined attempt, each
 * request for authentication): the attempt number. Ids are derived from what
 * happened, so recording the same fact twice records it once.
 */
export function invoiceNotice(
  type: Extract<NoticeType, `invoice.${string}`>,
  invoice: InvoiceFacts,
  at: Date,
  extra: Record<string, unknown> = {},
  occurrence?: number,
): Notice {
  const id = occurrence === undefined ? `${type}:${invoice.id}` : `${type}:${invoice.id}:${occurrence}`;
  return notice(type, id, invoice.id, at, {
    account_id: invoice.accountId,
    invoice_id: invoice.id,
    number: invoice.number,
    period: invoice.period,
    total: invoice.total,
    currency: invoice.currency,
    status: invoice.status,
    ...extra,
  });
}

/** account.suspended / account.reinstated; `suspension` is the suspension's number (1, 2, …) for the account. */
export function accountNotice(
  type: Extract<NoticeType, `account.${string}`>,
  accountId: string,
  suspension: number,
  at: Date,
  extra: Record<string, unknown> = {},
): Notice {
  return notice(type, `${type}:${accountId}:${suspension}`, accountId, at, { account_id: accountId, ...extra });
}
