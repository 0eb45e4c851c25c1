import type { FastifyInstance, FastifyReply } from 'fastify';
import type pg from 'pg';
import { formatReasons, ID_REUSED_REASON, type BillingEvent, type Reason } from '@vault/contracts';
import { getRejected, markResolved } from '../reports/store.ts';
import { verdict } from '../domain/content-hash.ts';
import { claimOf } from './claims.ts';
import { assess, settle, type Assessment, type IntakeDeps } from './intake.ts';
import { answerBusUnavailable, publishDurable } from './publish-deadline.ts';
import { afterPublish, answerPublishedUnsettled } from './published-unsettled.ts';
import { judgeHead } from './request-head.ts';
import { refuseQuery } from '../no-query.ts';
import { readResubmitBody } from './resubmit-body.ts';

export const RESUBMIT_URL = '/v1/rejected/:id/resubmit';

const CONTESTED =
  'published, but another event with this id and other content was published at the same moment: the consumer applies the one it reads first and keeps the other as a rejection. This rejection stays pending: look at GET /v1/rejected before re-submitting it under another id';

/**
 * `POST /v1/rejected/:id/resubmit`: a kept rejection, fixed (the body) or as it
 * was (no body, e.g. an event once too far in the future), back onto the bus.
 *
 * A 422 means nothing was published, or nothing of what was published applied
 * (the store refused it), so an operator who follows it (fixes, or changes the
 * id) never gets the event applied twice. Everything that refuses is looked at
 * before the publish: the intake's reading, then the key's claim (other
 * content claimed and live: id reused; this very content refused by the store:
 * refused). The consumer may still refuse the event between the publish and the
 * resolve (overlapping usage, the horizon moved): its claim is then refused,
 * and the resolve (markResolved) leaves the rejection pending and answers 422
 * with the reasons now kept for those bytes (as it was: the store's). A claim
 * the store refused (claims.ts) is no hold: the consumer, looking at stored
 * keys only, applies the fix, and the claim after the publish takes it over.
 * Only a claim made between the look and that one (another answer, same id,
 * other content) can still be found: the event is out then, so the answer is a
 * 409 saying so, the rejection left pending. A
 * crash at any point leaves the rejection pending and at most the event on the
 * bus, claimed or not: re-submitting it finds it stored or claimed with its
 * content, and answers 202, or refused by the store, and answers 422.
 */
export function resubmitRoute(scope: FastifyInstance, deps: IntakeDeps): void {
  scope.post<{ Params: { id: string } }>(RESUBMIT_URL, { onRequest: [refuseQuery, judgeHead] }, async (req, reply) => {
    const kept = await getRejected(deps.pool, req.params.id);
    if (!kept) return reply.code(404).send({ error: `no rejected event ${req.params.id}` });
    if (kept.resolved_at) return reply.code(200).send({ resolved_by: kept.resolved_by, already_resolved: true });
    // The fix read as POST /v1/events reads it; what cannot be read is refused naming why, nothing published.
    const body = readResubmitBody(req.headers, req.body);
    if (!body.ok)
      return reply
        .code(body.status)
        .headers(body.headers ?? {})
        .send({ error: body.error });
    const bytes = body.bytes ?? (kept.raw_base64 === null ? Buffer.from(kept.raw) : Buffer.from(kept.raw_base64, 'base64'));
    const stillRejected = (reasons: Reason[]) => reply.code(422).send(stillRejectedBody(reasons));
    const assessment = await assess(deps.pool, [{ index: 0, bytes }], Date.now() - RESUBMIT_CLOCK_MARGIN_MS);
    const refused = assessment.report.rejected[0];
    if (refused) return stillRejected(refused.reasons.map(earlyClock));
    const fresh = assessment.pending[0];
    const held = fresh && (await claimOf(deps.pool, fresh.event));
    const same = fresh && held && verdict(held.contentHash, fresh) === 'duplicate';
    if (fresh && held && !same && !held.refused) return stillRejected([ID_REUSED_REASON]);
    if (fresh && held && same && held.refused) return stillRejected([REFUSED_BEFORE]);
    try {
      await publishDurable(deps, assessment.messages);
    } catch (err) {
      // Nothing claimed or resolved: the rejection stays pending, and a re-submit finds what landed.
      const answered = answerBusUnavailable(reply, err, deps, 'the rejection stays pending, and re-submitting it');
      if (answered) return answered;
      throw err;
    }
    // Published: the claim and the resolve wait out a lock (IntakeDeps.afterPublishPool), never a 503 "try again";
    // any failure of them is a 503 saying it is published (published-unsettled.ts).
    try {
      return await afterPublish(assessment.messages.length, () => settleAndResolve(deps, reply, kept.id, bytes, assessment));
    } catch (err) {
      const answered = answerPublishedUnsettled(reply, err, deps, RESUBMIT_AGAIN);
      if (answered) return answered;
      throw err;
    }
  });
}

async function settleAndResolve(deps: IntakeDeps, reply: FastifyReply, keptId: string, bytes: Buffer, assessment: Assessment) {
  const settled = deps.afterPublishPool ?? deps.pool;
  const fresh = assessment.pending[0];
  const report = await settle(settled, assessment);
  if (report.rejected[0]) return reply.code(409).send({ error: CONTESTED, published: true });
  const event = JSON.parse(bytes.toString('utf8')) as { source: string; id: string };
  const by = `${event.source}/${event.id}`;
  const resolve = await markResolved(settled, keptId, by, {
    source: event.source,
    id: event.id,
    contentHash: fresh && (await claimedHash(settled, fresh)),
    bytes,
  });
  if (!resolve.resolved) return reply.code(422).send(stillRejectedBody(resolve.reasons ?? [REFUSED_AFTER]));
  return reply.code(202).send({ resolved_by: by, duplicate: report.duplicates === 1 });
}

/**
 * The hash the key's claim holds for this content: a claim made before `time` was hashed as its instant
 * (or with `datacontenttype`) holds that legacy hash, which markResolved compares as it is. Its own otherwise.
 */
async function claimedHash(pool: pg.Pool, fresh: { event: BillingEvent; contentHash: string }): Promise<string> {
  const held = await claimOf(pool, fresh.event);
  return held && verdict(held.contentHash, fresh) === 'duplicate' ? held.contentHash : fresh.contentHash;
}

const RESUBMIT_AGAIN =
  'the rejection stays pending; re-submitting it is safe, the event then answered as a duplicate (the same source and id), never applied twice, and the rejection resolved';

const stillRejectedBody = (reasons: Reason[]) => ({ error: `still rejected: ${formatReasons(reasons)}`, reasons });

/**
 * A re-submit judges the 5-minute future rule this much earlier than now. The
 * consumer judges again by the bus's clock (the database's on the embedded bus,
 * another host's on Kafka), which may be behind metering's: an event that had
 * just come within 5 minutes here (a loop re-submitting until 202 lands there)
 * was rejected again there as a duplicate of its row, which the 202 then
 * resolved: lost. A clock up to this far behind now agrees with every 202.
 */
export const RESUBMIT_CLOCK_MARGIN_MS = 60_000;

/** A time_in_future reason of a re-submit says why its clock is a minute early. */
function earlyClock(reason: Reason): Reason {
  if (reason.code !== 'time_in_future') return reason;
  return {
    ...reason,
    message: `${reason.message}: a re-submit is judged a minute early, so a bus clock behind ours never refuses what it publishes`,
  };
}

/** Refused by the store once published, its bytes' rejection not found (markResolved found no row of them). */
const REFUSED_AFTER: Reason = {
  field: '',
  code: 'store_refused',
  message: 'published, then refused by the store: nothing was applied; fix it (GET /v1/rejected names why)',
};

/** This very event (id and content) was refused by the store: re-sent as it is, it most likely would be again. */
const REFUSED_BEFORE: Reason = {
  field: '',
  code: 'store_refused',
  message: 'the store refused this very event (same id, same content) before: fix it (GET /v1/rejected names why)',
};
