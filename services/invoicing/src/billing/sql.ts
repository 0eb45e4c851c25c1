// SQL fragments shared by invoicing's queries of metering's published views.

/**
 * Whole milliseconds of a bounded range: each bound truncated to the
 * millisecond, as the rating domain counts instants (eventTimeMs).
 */
export const ms = (range: string) =>
  `(floor(extract(epoch from upper(${range})) * 1000) - floor(extract(epoch from lower(${range})) * 1000))`;

/** How long after an invoice's finalization a metering transaction may still commit usage it did not see. */
export const LATE_MARGIN_INTERVAL = '1 hour';
