// The `charging.pass` summary line's fields: one shape whether the pass ended or failed part-way,
// so what a pass charged is said even when a page read after the first one fails.
import type { PassReport } from './charger.ts';

/** How far a pass got: candidates and pages read. */
export interface PassProgress {
  read: number;
  pages: number;
}

/** The `charging.pass` summary's counts. */
export const passFields = (progress: PassProgress, report: PassReport, started: number) => ({
  'count#charging.candidates': progress.read,
  'count#charges.attempted': report.charged,
  'count#charges.paid': report.paid,
  'count#charges.declined': report.declined,
  'count#invoices.past_due': report.pastDue,
  'count#invoices.no_card': report.noCard,
  'count#charges.unanswered': report.errors,
  'measure#charging.pass': `${(performance.now() - started).toFixed(0)}ms`,
});

/**
 * The summary of a pass that failed part-way: its counts so far, `failed=true`, the pages it read,
 * and PostgreSQL's SQLSTATE when a statement failed (57014 a statement timeout, 55P03 a lock timeout).
 * The logger adds the error's message and class; no query text or parameters are logged.
 */
export const failedFields = (progress: PassProgress, report: PassReport, started: number, err: unknown) => {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    ...passFields(progress, report, started),
    failed: true,
    pages_read: progress.pages,
    ...(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? { error_code: code } : {}),
  };
};
