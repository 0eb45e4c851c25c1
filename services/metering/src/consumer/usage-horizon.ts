// The usage horizon (migration 018; docs/contracts/metering.md, "Usage
// horizon"): before it, usage is final and its events are refused.

/**
 * Every batch holds it shared from its first statement; `vault archive`
 * takes it exclusively to move the horizon, so no batch judged against the
 * old horizon commits after the move.
 */
export const HORIZON_LOCK = 7_018_001;
