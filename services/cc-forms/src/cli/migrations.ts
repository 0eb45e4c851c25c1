import { fileURLToPath } from 'node:url';

export const CC_FORMS_MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));
