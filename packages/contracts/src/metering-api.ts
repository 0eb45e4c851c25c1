// Bodies of metering's HTTP API (the platform spec's api.md), as zod schemas: the
// service builds its answers with them and clients (the CLI, tests) parse them.
import { z } from 'zod';
import { Reason } from './reasons.ts';

/** Counts are JSON numbers; money never appears here. */
const Count = z.int().min(0);

/** One refused line of a `POST /v1/events` body or a `vault publish` file. */
export const IntakeRejection = z.object({
  /** 0-based position: the array index, or the NDJSON line index (line number − 1). */
  index: Count,
  /** The event's `id` when the line had one. */
  id: z.string().nullable(),
  /** One human line naming the field(s). */
  reason: z.string(),
  reasons: z.array(Reason),
});
export type IntakeRejection = z.infer<typeof IntakeRejection>;

/** The answer to `POST /v1/events` (202): what the durable publish carried. */
export const IntakeReport = z.object({
  accepted: Count,
  duplicates: Count,
  rejected: z.array(IntakeRejection),
});
export type IntakeReport = z.infer<typeof IntakeReport>;

/** How the messages read off the bus ended: `read = applied + duplicate + rejected`. */
const MessageCounts = {
  read: Count,
  applied: Count,
  duplicate: Count,
  rejected: Count,
};

/** One source's messages, over every partition. */
export const SourceCounts = z.object({
  /** The events' `source`; null for messages without a readable (non-empty string) one. */
  source: z.string().nullable(),
  ...MessageCounts,
});
export type SourceCounts = z.infer<typeof SourceCounts>;

/** One partition's messages, over every source. */
export const PartitionCounts = z.object({
  /** The identity of the log read (a topic recreated, or another cluster or bus, is another log). */
  log: z.string(),
  topic: z.string(),
  partition: Count,
  ...MessageCounts,
});
export type PartitionCounts = z.infer<typeof PartitionCounts>;

/** A change of the log under a topic that metering found, and what it did (docs/contracts/metering.md). */
export const LogChange = z.object({
  detected_at: z.string(),
  topic: z.string(),
  /** null: the topic as a whole, seen when the consumer started (another log, or partitions added). */
  partition: Count.nullable(),
  /** The log the stored position belonged to; null when it was stored before positions named their log. */
  from_log: z.string().nullable(),
  to_log: z.string(),
  reason: z.string(),
  action: z.string(),
});
export type LogChange = z.infer<typeof LogChange>;

/** `GET /v1/stats`: counters since the database was created. */
export const MeteringStats = z.object({
  events_applied: Count,
  events_duplicate: Count,
  events_rejected: Count,
  /** Messages on the bus that metering has not yet applied. */
  consumer_lag: Count,
  /** Per source, sorted by source (null last); counted since metering's migration 007. */
  sources: z.array(SourceCounts),
  /** Per log and partition, by topic, log and partition; counted since metering's migration 007. */
  partitions: z.array(PartitionCounts),
  /** The latest changes of log found (at most 50), newest first. */
  log_changes: z.array(LogChange),
});
export type MeteringStats = z.infer<typeof MeteringStats>;

/** One kept rejection, as `GET /v1/rejected` lists it. */
export const RejectedEvent = z.object({
  id: z.string(),
  received_at: z.string(),
  /** The message's text as received (U+0000 shown as U+FFFD). */
  raw: z.string(),
  /** The exact bytes, base64, when `raw` is not them (not UTF-8, or holding U+0000). */
  raw_base64: z.string().nullable(),
  reason: z.string(),
  reasons: z.array(Reason),
  source: z.string().nullable(),
  event_id: z.string().nullable(),
  /** `topic/partition/offset` of the message on the bus. */
  bus_position: z.string().nullable(),
  /** Set once a fix was re-submitted and accepted. */
  resolved_at: z.string().nullable(),
  /** `source/id` of the event that resolved it. */
  resolved_by: z.string().nullable(),
});
export type RejectedEvent = z.infer<typeof RejectedEvent>;

/** A page's size, 1 to 1000 (100 by default). Digits only: `1e2`, ` 5` or `5.0` are refused rather than read as something else. */
const pageLimit = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 1000')
  .transform(Number)
  .pipe(z.int().min(1, 'must be a whole number from 1 to 1000').max(1000, 'must be a whole number from 1 to 1000'))
  .default(100);

export const RejectedQuery = z
  .object({
    status: z.enum(['pending', 'resolved', 'all']).default('pending'),
    limit: pageLimit,
    /**
     * Keyset pagination: only rejections with a greater id (compared as
     * numbers). A decimal string, as ids and `next_after` are: ids are 64-bit.
     */
    after: z
      .string()
      .regex(/^\d{1,18}$/, 'must be a rejection id: digits, as next_after gives it')
      .default('0'),
  })
  // A misspelt parameter is a 400 naming it, never read as the default.
  .strict();

export const RejectedList = z.object({
  rejected: z.array(RejectedEvent),
  /** Pass as `after` for the next page; null on the last one. */
  next_after: z.string().nullable(),
});
export type RejectedList = z.infer<typeof RejectedList>;

/** A subject whose sequence has a hole: its usage from `unreliable_from` on is held out of invoices. */
export const SubjectGap = z.object({
  subject: z.string(),
  app_id: z.string().nullable(),
  missing_sequence: z.string(),
  unreliable_from: z.string().nullable(),
  detected_at: z.string(),
});
export type SubjectGap = z.infer<typeof SubjectGap>;

export const GapQuery = z
  .object({
    limit: pageLimit,
    /** Keyset pagination: only subjects after this one, in the list's order (`next_after` gives it). */
    after: z.string().max(1024, 'must be a subject, as next_after gives it').optional(),
  })
  .strict();

export const GapList = z.object({
  gaps: z.array(SubjectGap),
  /** Pass as `after` for the next page; null on the last one. */
  next_after: z.string().nullable(),
});
export type GapList = z.infer<typeof GapList>;
