import { testKafkaBrokers } from '@vault/testkit';
import { createKafkaBus } from '../src/index.ts';
import { busConformance } from './conformance.ts';

busConformance('Kafka (kafkajs, real broker)', async () => {
  const brokers = testKafkaBrokers();
  const bus = await createKafkaBus({ brokers, clientId: 'conformance' });
  return { bus, child: { kind: 'kafka', target: brokers.join(',') }, close: () => bus.close() };
});
