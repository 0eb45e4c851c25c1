// The currencies a PaymentIntent may be in, and their rules on amounts. Pure.
// Source: Stripe's "Supported currencies" page (https://docs.stripe.com/currencies),
// sections "Supported presentment currencies" (the list shown for a Netherlands
// account; BHD JOD KWD OMR TND are shown for a UAE account), "Three-decimal
// currencies" and "Special cases". Which of them an account may use depends on
// its country; the sandbox takes them all.

const TWO_OR_ZERO_DECIMAL =
  'usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw';

/** "These API calls require the least-significant (last) digit to be 0." */
const THREE_DECIMAL: ReadonlySet<string> = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** Zero-decimal now, sent with two decimals that must be 00 ("evenly divisible by 100"). */
const WHOLE_HUNDREDS: ReadonlySet<string> = new Set(['isk', 'ugx']);

export const PRESENTMENT_CURRENCIES: ReadonlySet<string> = new Set([...TWO_OR_ZERO_DECIMAL.split(' '), ...THREE_DECIMAL]);

/** What is wrong with `amount` (minor units) in `currency` (lower case), if anything. */
export function currencyAmountProblem(amount: number, currency: string): string | undefined {
  if (THREE_DECIMAL.has(currency) && amount % 10 !== 0) {
    return `${currency} is a three-decimal currency: the amount's last digit must be 0 (round to the nearest ten)`;
  }
  if (WHOLE_HUNDREDS.has(currency) && amount % 100 !== 0) {
    return `${currency} amounts are whole units sent with two decimals: the amount must be evenly divisible by 100`;
  }
  return undefined;
}
