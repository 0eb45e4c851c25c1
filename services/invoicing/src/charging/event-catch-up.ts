// Catching up with the gateway's events that webhooks missed: the gateway
// retries a delivery for three days at most, stops for good once it disables
// an endpoint that kept failing, and sends nothing of what happened while the
// endpoint was disabled. Each run lists the events of the types invoicing
// handles, created since a mark in our database (less an overlap), and hands
// each to the webhook route's own handler: fetched over our authenticated API
// call they need no signature, and every check of our records still applies.
// Events are recorded by id, so whatever the webhooks (or an earlier run
// killed mid-way) handled already is a duplicate that changes nothing.
import { z } from 'zod';
import type { Gateway } from '@vault/gateway';
import { WEBHOOK_EVENTS } from './gateway-calls.ts';
import { readEventMark, saveEventMark, whileCatchingUp } from './event-mark.ts';
import { type EventHandlerDeps, GatewayEvent, handleGatewayEvent, notHandled } from './webhooks.ts';

/** The gateway lists the events of the last 30 days only (Stripe's List Events). */
export const GATEWAY_EVENT_RETENTION_SECONDS = 30 * 86_400;

/**
 * How far before the mark each run lists again: an event may show in the
 * list after later ones did (created within the same second, or committed
 * late), and its duplicates cost one lookup each.
 */
export const CATCH_UP_OVERLAP_SECONDS = 300;

/**
 * How far behind our clock the mark may be moved when a run lists nothing to move it by: a week,
 * so a clock wrong by less than that never skips an event; a quiet installation lists its last
 * week again each run, few events, and never looks beyond the 30 days the gateway keeps.
 */
export const QUIET_MARK_LAG_SECONDS = 7 * 86_400;

/** The gateway's events of WEBHOOK_EVENTS' types, a page at a time (memory holds one page). */
export interface EventSource {
  /** Those created at or after `sinceS` (Unix seconds), newest first. */
  newestFirst(sinceS: number): AsyncIterable<unknown>;
  /** Those created at or after `sinceS` and listed after the event `afterId`, oldest first. */
  oldestFirstAfter(sinceS: number, afterId: string): AsyncIterable<unknown>;
}

/** The EventSource of a gateway's List Events (`types[]`, `created[gte]`, paged by the SDK). */
export function gatewayEvents(stripe: Gateway, pageSize = 100): EventSource {
  const params = (sinceS: number) => ({ types: [...WEBHOOK_EVENTS], created: { gte: sinceS }, limit: pageSize });
  return {
    newestFirst: (sinceS) => stripe.events.list(params(sinceS)),
    // With ending_before the SDK turns the pages toward newer events and gives each page oldest first.
    oldestFirstAfter: (sinceS, afterId) => stripe.events.list({ ...params(sinceS), ending_before: afterId }),
  };
}

export interface CatchUpDeps extends EventHandlerDeps {
  events: EventSource;
  /** The mark is saved after this many events (and at the end): a run killed mid-way redoes at most these. */
  saveEvery?: number;
  /**
   * The clock the gateway's `created` is read against, when listing starts (default Date.now): `now`
   * ages events (tests move it), this one bounds what the listing covered.
   */
  gatewayNow?: () => number;
}

export interface CatchUpTally {
  listed: number;
  /** Handled now: their webhook never came (or not yet). */
  caught_up: number;
  duplicates: number;
  /** Refunds and disputes waiting for their invoice's payment (not recorded): the mark stays before the first. */
  waiting: number;
  /** Events the handler cannot read: logged, and passed (an event never changes). */
  refused: number;
  mark: number | undefined;
}

/** What the catch-up reads of an event: the route's shape, with `created`, which the mark moves by. */
const FetchedEvent = GatewayEvent.extend({ created: z.number().int() });
const EventId = z.object({ id: z.string().min(1) });

/**
 * One run: undefined when another process is running one. The events are
 * handled oldest first (the first one found by listing newest first, then the
 * pages after it), so a payment comes before its refund, which would otherwise
 * wait for it. The mark moves to each handled event's `created` until an event
 * is not handled (a refund before its payment): then to that event's, lower
 * than before if need be, and the rest are handled still. A run nothing held
 * back ends with the mark at least at the listing's start less the overlap:
 * every event created before that was listed, so a quiet gateway (no event of
 * ours for 30 days) is no run beyond retention.
 */
export function catchUpEvents(deps: CatchUpDeps): Promise<CatchUpTally | undefined> {
  return whileCatchingUp(deps.pool, () => catchUpHoldingLock(deps));
}

/** One run (catchUpEvents'), by a caller that holds whileCatchingUp's lock. */
export async function catchUpHoldingLock(deps: CatchUpDeps): Promise<CatchUpTally> {
  const saveEvery = deps.saveEvery ?? 100;
  const nowS = Math.floor((deps.now?.() ?? Date.now()) / 1000);
  const stored = await readEventMark(deps.pool);
  const retained = nowS - GATEWAY_EVENT_RETENTION_SECONDS;
  if (stored !== undefined && stored < retained) {
    // Down (or failing) for longer than the gateway keeps events: what it no longer lists is not caught up.
    deps.log.warn('webhook_catchup.beyond_retention', {
      mark: stored,
      retained_since: retained,
      'count#webhook_catchup.beyond_retention': 1,
    });
  }
  // The first run takes whatever the gateway still lists.
  const since = (stored ?? retained) - CATCH_UP_OVERLAP_SECONDS;
  const tally: CatchUpTally = { listed: 0, caught_up: 0, duplicates: 0, waiting: 0, refused: 0, mark: stored };
  let blocked = false;
  let saved = stored;
  let unsaved = 0;

  const take = async (raw: unknown) => {
    tally.listed += 1;
    const parsed = FetchedEvent.safeParse(raw);
    if (!parsed.success) {
      tally.refused += 1;
      const issue = parsed.error.issues[0];
      deps.log.error('webhook.caught_up', undefined, {
        event_id: EventId.safeParse(raw).data?.id ?? 'none',
        outcome: 'refused',
        reason: `${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`,
        'count#webhooks.rejected': 1,
      });
      return;
    }
    const event = parsed.data;
    const outcome = await handleGatewayEvent(deps, event);
    const fields = { event_id: event.id, type: event.type, ...outcome };
    if (notHandled(outcome)) {
      tally.waiting += 1;
      // Not handled: the next run lists it again (the gateway's retries, if any, may come first).
      if (!blocked) tally.mark = event.created;
      blocked = true;
      deps.log.info('webhook.caught_up', fields);
    } else if (outcome.outcome === 'duplicate') {
      tally.duplicates += 1;
    } else {
      tally.caught_up += 1;
      if (outcome.outcome === 'stray')
        deps.log.warn('webhook.caught_up', { ...fields, 'count#webhooks.caught_up': 1, 'count#webhooks.stray': 1 });
      else deps.log.info('webhook.caught_up', { ...fields, 'count#webhooks.caught_up': 1 });
    }
    if (!blocked) tally.mark = Math.max(tally.mark ?? event.created, event.created);
    unsaved += 1;
    if (unsaved >= saveEvery && tally.mark !== undefined && tally.mark !== saved) {
      await saveEventMark(deps.pool, tally.mark);
      saved = tally.mark;
      unsaved = 0;
    }
  };

  // Noted before the first page: an event created after it may not be on the pages listed.
  const listStartS = Math.floor((deps.gatewayNow?.() ?? Date.now()) / 1000);
  let oldest: unknown;
  for await (const event of deps.events.newestFirst(since)) oldest = event;
  if (oldest !== undefined) {
    const first = EventId.safeParse(oldest);
    if (!first.success) throw new Error('the gateway listed an event without an id');
    await take(oldest);
    for await (const event of deps.events.oldestFirstAfter(since, first.data.id)) await take(event);
  }
  // A quiet gateway lists nothing to move the mark by: our clock moves it, so it never looks beyond retention, but
  // only to a week before the listing (QUIET_MARK_LAG_SECONDS). The events' `created` is the gateway's clock: by ours
  // alone, a clock fast by minutes put the mark past events created after the listing, never to be listed.
  if (!blocked) tally.mark = Math.max(tally.mark ?? Number.NEGATIVE_INFINITY, listStartS - QUIET_MARK_LAG_SECONDS);
  if (tally.mark !== undefined && tally.mark !== saved) await saveEventMark(deps.pool, tally.mark);
  deps.log.info('webhook_catchup.done', { since, ...tally, mark: tally.mark ?? 'none' });
  return tally;
}
