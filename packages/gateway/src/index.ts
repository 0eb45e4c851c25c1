export * from './config.ts';
export * from './client.ts';
export { default as Stripe } from 'stripe';
export * from './created-under.ts';
export { gatewayOrigin, unreachableCause, unreachableFields } from './unreachable.ts';
