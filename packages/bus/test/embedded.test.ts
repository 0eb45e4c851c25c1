import { freshDatabase } from '@vault/testkit';
import { createEmbeddedBus } from '../src/index.ts';
import { busConformance } from './conformance.ts';

busConformance('embedded bus (PostgreSQL)', async () => {
  const db = await freshDatabase('bus');
  const bus = await createEmbeddedBus({ pool: db.pool, url: db.url });
  return {
    bus,
    child: { kind: 'embedded', target: db.url },
    close: async () => {
      await bus.close();
      await db.drop();
    },
  };
});
