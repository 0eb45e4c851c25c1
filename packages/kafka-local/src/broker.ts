// start / stop / status of one local broker, identified by its state dir.
import fs from 'node:fs';
import { acquireLock } from '@vault/db/start-lock';
import { awaitLeftoverFormats } from './leftover-format.ts';
import { HOST, isFormatted, newClusterId, readPorts, storageFormatArgs, writeConfig } from './config.ts';
import { logfmt, silent, type Log } from './log.ts';
import { statePaths, type StatePaths } from './paths.ts';
import { brokerAnswers, portOpen } from './probe.ts';
import { isAlive, isOurBroker, jvmArgs, readPid, removePidFile, runCommand, spawnDetached, stopGroup } from './process.ts';
import { ensureKafkaFetched } from './resolve.ts';
import { requireTool } from './tools.ts';

export interface StartOptions {
  stateDir: string;
  /** PLAINTEXT port on 127.0.0.1 (default 9092). */
  port?: number;
  /** KRaft controller port (default port + 1). */
  controllerPort?: number;
  /** Download cache root (default `$VAULT_CACHE_DIR` or `~/.cache/the-vault`). */
  cacheDir?: string;
  log?: Log;
  /** How long to wait for the broker to answer (default 60 s). */
  timeoutMs?: number;
  /** server.properties to set over ours (tests of a broker configured as Kafka's defaults, e.g. auto-created topics). */
  properties?: Record<string, string | number>;
  /**
   * Aborted (Ctrl-C): the start gives up at its next step. A broker it spawned is stopped
   * first, never left starting with nobody told its address; one it found running is left be.
   */
  signal?: AbortSignal;
  /** Told the broker's pid as soon as it is spawned (a caller that must stop it at once on a second signal). */
  onSpawned?: (pid: number) => void;
}

/** A start given up because its signal was aborted (startKafka's `signal`). */
export class StartInterrupted extends Error {}

export interface StartResult {
  brokers: string;
  pid: number;
  reused: boolean;
}

export interface StatusResult {
  running: boolean;
  brokers?: string;
  pid?: number;
  /** The broker answered a metadata request. */
  ready?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function logTail(paths: StatePaths): string {
  const parts = [
    [paths.stdoutLog, tail(paths.stdoutLog, 20)],
    [paths.serverLog, tail(paths.serverLog, 40)],
  ].filter(([, text]) => text);
  return parts.map(([file, text]) => `--- tail of ${file} ---\n${text}`).join('\n') || '(broker wrote no log)';
}

/** The pid from the pidfile if it is our broker and alive; clears a stale pidfile. */
function livePid(paths: StatePaths, log: Log): number | undefined {
  const pid = readPid(paths);
  if (pid === undefined) return undefined;
  if (isOurBroker(pid, paths)) return pid;
  log(logfmt('info', 'stale_pidfile_removed', 'removing stale pidfile', { pid, file: paths.pidFile }));
  removePidFile(paths);
  return undefined;
}

/** Poll until the broker answers; fail fast if its process dies or the start is given up. */
async function waitReady(
  brokers: string,
  pid: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<'ready' | 'died' | 'timeout' | 'interrupted'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signal?.aborted) return 'interrupted';
    if (!isAlive(pid)) return 'died';
    if (await brokerAnswers(brokers, 2_000)) return 'ready';
    await sleep(500);
  }
  return 'timeout';
}

/** How long a start waits for another start of the same state dir (it may be downloading Kafka). */
const START_LOCK_WAIT_MS = 15 * 60_000;

/**
 * Starts the broker of `opts.stateDir`, or reuses the one running there. Two
 * starts at once take turns (a lock file in the state dir): the second finds
 * the first's broker and reuses it. Without that, both spawned one, the loser
 * died on the taken port and removed the pidfile, and the winner ran on with
 * nothing left to stop it.
 */
export async function startKafka(opts: StartOptions): Promise<StartResult> {
  const paths = statePaths(opts.stateDir);
  fs.mkdirSync(paths.dir, { recursive: true });
  const log = opts.log ?? silent;
  const lock = `${paths.dir}/start.lock`;
  // A start ended early (killed, Ctrl-C) leaves its lock behind: its holder gone, it is taken over at once.
  const onTakeOver = ({ pid, why }: { pid: number; why: string }) =>
    log(logfmt('warn', 'start_lock_taken_over', 'took over the lock of a start that ended early', { pid, why, lock }));
  const release = await acquireLock(lock, { timeoutMs: START_LOCK_WAIT_MS, onTakeOver });
  try {
    return await startLocked(opts, paths);
  } finally {
    await release();
  }
}

async function startLocked(opts: StartOptions, paths: StatePaths): Promise<StartResult> {
  const log = opts.log ?? silent;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const running = livePid(paths, log);
  if (running !== undefined) {
    const ports = readPorts(paths);
    const brokers = `${HOST}:${ports?.port ?? '?'}`;
    // It may still be starting (e.g. a concurrent start): give it the same grace as a fresh one.
    const found = ports ? await waitReady(brokers, running, timeoutMs, opts.signal) : 'died';
    if (found === 'interrupted') throw new StartInterrupted(`gave up waiting for the broker already running (pid ${running}); it runs on`);
    if (ports && found === 'ready') {
      if (opts.port !== undefined && opts.port !== ports.port) {
        log(
          logfmt('warn', 'port_differs', 'running broker uses a different port than requested', { requested: opts.port, port: ports.port }),
        );
      }
      log(logfmt('info', 'reused', 'reusing running kafka broker', { pid: running, brokers, state: paths.dir }));
      return { brokers, pid: running, reused: true };
    }
    throw new Error(
      `a kafka broker (pid ${running}) is running from ${paths.dir} but does not answer on ${brokers}; ` +
        `stop it first (vault kafka stop).\n${logTail(paths)}`,
    );
  }

  await awaitLeftoverFormats(paths, log);
  const port = opts.port ?? 9092;
  const controllerPort = opts.controllerPort ?? port + 1;
  const controllerVariable = opts.controllerPort === undefined ? 'KAFKA_PORT + 1, or set KAFKA_CONTROLLER_PORT' : 'KAFKA_CONTROLLER_PORT';
  for (const [p, variable] of [
    [port, 'KAFKA_PORT'],
    [controllerPort, controllerVariable],
  ] as const) {
    if (await portOpen(HOST, p)) {
      throw new Error(`port ${HOST}:${p} is already in use by another process; pick another port (${variable})`);
    }
  }

  requireTool('java');
  const dist = await ensureKafkaFetched({ cacheDir: opts.cacheDir, log });
  writeConfig(paths, { port, controllerPort }, opts.properties);
  log(logfmt('info', 'config_written', 'wrote broker config', { config: paths.config }));

  if (!isFormatted(paths)) {
    const clusterId = newClusterId();
    log(logfmt('info', 'storage_formatting', 'formatting kraft storage', { cluster_id: clusterId, dir: paths.dataDir }));
    const r = await runCommand('java', jvmArgs(paths, dist.classpath, storageFormatArgs(paths, clusterId)), paths.dir);
    // Ctrl-C at a terminal reaches the format's JVM too: its failure then is the signal's.
    if (opts.signal?.aborted) throw new StartInterrupted('stopped while formatting the storage; nothing runs');
    if (r.code !== 0) throw new Error(`kafka StorageTool format failed (exit ${r.code}):\n${r.output.trim()}\n${logTail(paths)}`);
  }

  const brokers = `${HOST}:${port}`;
  if (opts.signal?.aborted) throw new StartInterrupted('stopped before the broker was started; nothing runs');
  const started = Date.now();
  const pid = spawnDetached(jvmArgs(paths, dist.classpath, ['kafka.Kafka', paths.config]), paths);
  opts.onSpawned?.(pid);
  log(logfmt('info', 'starting', 'starting kafka broker', { pid, brokers, log: paths.serverLog }));

  const outcome = await waitReady(brokers, pid, timeoutMs, opts.signal);
  if (outcome !== 'ready') {
    await stopGroup(pid, 5_000);
    removePidFile(paths);
    if (outcome === 'interrupted') {
      log(logfmt('warn', 'start_interrupted', 'start given up: the broker it was starting is stopped', { pid, brokers }));
      throw new StartInterrupted(`stopped the broker it was starting (pid ${pid}); nothing runs`);
    }
    const why = outcome === 'died' ? 'exited during startup' : `did not answer within ${timeoutMs / 1000}s`;
    throw new Error(`kafka broker ${why} (brokers ${brokers}, state ${paths.dir})\n${logTail(paths)}`);
  }
  log(logfmt('info', 'ready', 'kafka ready', { brokers, pid, seconds: ((Date.now() - started) / 1000).toFixed(1) }));
  return { brokers, pid, reused: false };
}

/** Stop the broker of this state dir. Resolves false when nothing was running. */
export async function stopKafka(opts: { stateDir: string; log?: Log }): Promise<boolean> {
  const log = opts.log ?? silent;
  const paths = statePaths(opts.stateDir);
  const pid = livePid(paths, log);
  if (pid === undefined) {
    log(logfmt('info', 'not_running', 'kafka not running', { state: paths.dir }));
    return false;
  }
  log(logfmt('info', 'stopping', 'stopping kafka broker', { pid }));
  const how = await stopGroup(pid);
  removePidFile(paths);
  log(logfmt(how === 'killed' ? 'warn' : 'info', 'stopped', 'kafka stopped', { pid, how }));
  return true;
}

export async function kafkaStatus(opts: { stateDir: string }): Promise<StatusResult> {
  const paths = statePaths(opts.stateDir);
  const pid = livePid(paths, silent);
  if (pid === undefined) return { running: false };
  const ports = readPorts(paths);
  if (!ports) return { running: true, pid, ready: false };
  const brokers = `${HOST}:${ports.port}`;
  return { running: true, pid, brokers, ready: await brokerAnswers(brokers) };
}
