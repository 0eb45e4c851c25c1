// What the `vault` command (scripts/cli) runs for cc-forms.
export { CC_FORMS_MIGRATIONS } from './migrations.ts';
export { addTestCard, CardCliError, CardUsageError, parseTestCardArgs, type TestCardArgs } from './test-card.ts';
export { cardFormAddress } from './needs-authentication.ts';
export { cardOnFile } from '../cards/store.ts';
