// `vault start`'s check of its apps' variables, before anything starts: a bad one
// found only once PostgreSQL and the other apps were up left them to be stopped again,
// and was blamed on the demo.
import { ccFormsConfig } from '@vault/cc-forms/config';
import { gatewaySandboxConfig } from '@vault/gateway-sandbox/config';
import { invoicingConfig } from '@vault/invoicing/config';
import { meteringConfig } from '@vault/metering/config';
import { ConfigError, parseConfig } from '@vault/runtime';
import type { AppEntry } from './apps.ts';
import { cliVariables, VaultSettings } from './vault-settings.ts';

/** Each app's own configuration, as it parses it at boot (its schema, PRICE_BOOK's file, the gateway's keys). */
const APP_CONFIG: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  metering: meteringConfig,
  invoicing: invoicingConfig,
  'cc-forms': ccFormsConfig,
  'gateway-sandbox': gatewaySandboxConfig,
};

/**
 * Every chosen app's variables, checked as that app checks them: one ConfigError
 * naming each bad one (once, however many apps read it). Only the chosen apps':
 * `vault start cc-forms` never fails on invoicing's.
 */
export function checkAppVariables(apps: readonly AppEntry[], env: NodeJS.ProcessEnv): void {
  const problems = new Map<string, ConfigError['problems'][number]>();
  for (const app of apps) {
    try {
      APP_CONFIG[app.name]!(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) problems.set(`${p.variable}\n${p.message}`, p);
    }
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
}

/**
 * The demo's settings: every app's (checked by checkAppVariables before anything
 * started), without `vault kafka`'s own variables, which the demo never reads.
 */
export function demoSettings(env: NodeJS.ProcessEnv): VaultSettings {
  const own = { ...env };
  for (const variable of Object.keys(cliVariables)) delete own[variable];
  return parseConfig(VaultSettings, own);
}
