// `vault kafka start|stop|status`: a local single-node Kafka under ./.vault/kafka.
import path from 'node:path';
import { defaultCacheDir, kafkaStatus, logfmt, startKafka, stopKafka } from '@vault/kafka-local';
import { UsageError } from './apps.ts';
import { cliSettings } from './settings.ts';

const USAGE = `usage: vault kafka <start|stop|status>
  start   fetch Kafka (first time only) and run a local broker; prints KAFKA_BROKERS=...
  stop    stop the local broker
  status  show whether it runs (exit 0 when it answers)
env: KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default KAFKA_PORT+1), VAULT_CACHE_DIR`;


export async function kafkaCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const settings = cliSettings();
  const stateDir = path.resolve(process.cwd(), settings.VAULT_HOME, 'kafka');
  const log = (line: string) => console.log(line);
  try {
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    switch (sub) {
      case 'start': {
        const r = await startKafka({
          stateDir,
          port: settings.KAFKA_PORT,
          controllerPort: settings.KAFKA_CONTROLLER_PORT,
          cacheDir: defaultCacheDir(env),
          log,
        });
        console.log(`KAFKA_BROKERS=${r.brokers}`);
        return 0;
      }
      case 'stop':
        await stopKafka({ stateDir, log });
        return 0;
      case 'status': {
        const s = await kafkaStatus({ stateDir });
        if (!s.running) {
          log(logfmt('info', 'kafka not running', { state: stateDir }));
          return 1;
        }
        log(logfmt(s.ready ? 'info' : 'warn', s.ready ? 'kafka running' : 'kafka process up but not answering', { pid: s.pid, brokers: s.brokers }));
        if (s.ready) console.log(`KAFKA_BROKERS=${s.brokers}`);
        return s.ready ? 0 : 1;
      }
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        console.log(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`vault kafka: ${e.message}\n${USAGE}`);
      return 2;
    }
    console.error(`vault kafka ${sub}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
