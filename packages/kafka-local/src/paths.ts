// Where things live: the shared download cache and one broker's state dir.
import os from 'node:os';
import path from 'node:path';

/** `$VAULT_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/the-vault`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VAULT_CACHE_DIR) return path.resolve(env.VAULT_CACHE_DIR);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'the-vault');
}

export interface StatePaths {
  dir: string;
  /** server.properties, rewritten on every fresh start. */
  config: string;
  log4j: string;
  /** KRaft metadata + topic data (log.dirs). */
  dataDir: string;
  pidFile: string;
  /** The broker's own log, written by log4j. */
  serverLog: string;
  /** JVM stdout/stderr: catches failures before log4j is up. */
  stdoutLog: string;
}

export function statePaths(stateDir: string): StatePaths {
  const dir = path.resolve(stateDir);
  return {
    dir,
    config: path.join(dir, 'server.properties'),
    log4j: path.join(dir, 'log4j.properties'),
    dataDir: path.join(dir, 'data'),
    pidFile: path.join(dir, 'kafka.pid'),
    serverLog: path.join(dir, 'server.log'),
    stdoutLog: path.join(dir, 'stdout.log'),
  };
}
