// `vault kafka start|stop|status`: a local single-node Kafka under ./.vault/kafka.
import path from 'node:path';
import { defaultCacheDir, kafkaStatus, logfmt, StartInterrupted, startKafka, stopKafka } from '@vault/kafka-local';
import { CommandError, parseCommand, pickSubcommand } from './command.ts';
import { endEarly } from './early-exit.ts';
import { loadDotEnv, parseConfig } from '@vault/runtime';
import { kafkaSpec } from './kafka-spec.ts';
import { printedLines } from './stdout.ts';
import { VaultSettings } from './vault-settings.ts';

// Only what the local broker needs: another app's bad variable is that app's concern.
// The controller listens on its own port: KAFKA_CONTROLLER_PORT, else the one after KAFKA_PORT.
const KafkaSettings = VaultSettings.pick({ VAULT_HOME: true, KAFKA_PORT: true, KAFKA_CONTROLLER_PORT: true }).superRefine((s, ctx) => {
  if (s.KAFKA_CONTROLLER_PORT === undefined && s.KAFKA_PORT === 65535) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_PORT'],
      message: 'leaves no port after it for the controller: pick a lower one, or set KAFKA_CONTROLLER_PORT',
    });
  }
  if (s.KAFKA_CONTROLLER_PORT === s.KAFKA_PORT) {
    ctx.addIssue({
      code: 'custom',
      path: ['KAFKA_CONTROLLER_PORT'],
      message: 'must differ from KAFKA_PORT (the controller listens on its own port)',
    });
  }
});

/** The exit status of a start stopped by a signal: 128 + its number, as a shell reports it. */
const SIGNAL_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_STATUS;

export async function kafkaCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const sub = pickSubcommand(kafkaSpec, args);
  parseCommand(sub.spec, sub.args);
  loadDotEnv();
  const settings = parseConfig(KafkaSettings);
  const stateDir = path.resolve(process.cwd(), settings.VAULT_HOME, 'kafka');
  const log = (line: string) => console.log(line);
  try {
    switch (sub.spec.name) {
      case 'kafka start': {
        // Its stdout's reader gone (`| head -1`), the start goes on: an exit at the failed write left a
        // broker starting (or its storage half-formatted) that nobody was told of. Once it is ready,
        // what it printed in vain (KAFKA_BROKERS) is said on stderr, exit 1 (stdout.ts, printedLines).
        const printed = printedLines();
        // Ctrl-C or SIGTERM once the broker is spawned: it is stopped, not left starting with nobody told
        // its address (it runs detached, and ran on once the command was gone); a second signal kills it
        // at once. Before the spawn (waiting for another start's lock, downloading, formatting) the command
        // ends at once, as a killed one: the next start takes its lock over.
        const stop = new AbortController();
        let stoppedBy: StopSignal | undefined;
        let broker: number | undefined;
        const onSignal = (signal: StopSignal) => {
          const said = `vault kafka start: ${signal}`;
          if (broker === undefined) {
            process.stderr.write(`${said}: stopped before the broker was started; nothing runs\n`);
            void endEarly(SIGNAL_STATUS[signal]);
            return;
          }
          if (stoppedBy) {
            process.stderr.write(`${said}: killing the broker it was starting (pid ${broker})\n`);
            killBroker(broker);
            return;
          }
          stoppedBy = signal;
          process.stderr.write(`${said}: stopping the broker it was starting (pid ${broker}); again to kill it\n`);
          stop.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          const r = await startKafka({
            stateDir,
            port: settings.KAFKA_PORT,
            controllerPort: settings.KAFKA_CONTROLLER_PORT,
            cacheDir: defaultCacheDir(env),
            log: printed.out,
            signal: stop.signal,
            onSpawned: (pid) => {
              broker = pid;
            },
          });
          // The broker answered before the signal was heard: it runs, and its address is said.
          printed.out(`KAFKA_BROKERS=${r.brokers}`);
          return await printed.settle(sub.spec.name, 0);
        } catch (e) {
          if (e instanceof StartInterrupted && stoppedBy)
            throw new CommandError(`start: ${stoppedBy}: ${e.message}`, SIGNAL_STATUS[stoppedBy]);
          throw e;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          printed.stop();
        }
      }
      case 'kafka stop':
        await stopKafka({ stateDir, log });
        return 0;
      default: {
        const s = await kafkaStatus({ stateDir });
        if (!s.running) {
          log(logfmt('info', 'not_running', 'kafka not running', { state: stateDir }));
          return 1;
        }
        log(
          logfmt(
            s.ready ? 'info' : 'warn',
            s.ready ? 'running' : 'not_answering',
            s.ready ? 'kafka running' : 'kafka process up but not answering',
            {
              pid: s.pid,
              brokers: s.brokers,
            },
          ),
        );
        if (s.ready) console.log(`KAFKA_BROKERS=${s.brokers}`);
        return s.ready ? 0 : 1;
      }
    }
  } catch (e) {
    if (e instanceof CommandError) throw e;
    throw new CommandError(`${sub.spec.name.slice('kafka '.length)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The spawned broker's whole process group (spawnDetached makes it its leader), killed now. */
function killBroker(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already: the stop under way finds it dead.
  }
}
