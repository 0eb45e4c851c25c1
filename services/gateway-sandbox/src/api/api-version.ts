/**
 * The API version the sandbox answers as: the one the installed `stripe` SDK
 * (v23) pins, so events and `Stripe-Version` look as that SDK expects.
 */
export const API_VERSION = '2026-10-28.endive';
