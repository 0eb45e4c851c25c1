// Fail early, and say how to fix it, when java or mvn is not installed.
import { spawnSync } from 'node:child_process';

const INSTALL_HINT = 'On Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven';

const TOOLS = {
  java: { probe: ['-version'], why: 'a Java runtime (17+) to run the Kafka broker' },
  mvn: { probe: ['-v'], why: 'Maven to fetch Kafka from Maven Central (first start only)' },
} as const;

export function requireTool(name: keyof typeof TOOLS): void {
  const tool = TOOLS[name];
  const r = spawnSync(name, tool.probe, { stdio: 'ignore' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`\`${name}\` not found on PATH: kafka-local needs ${tool.why}. ${INSTALL_HINT}`);
  }
  if (r.error) throw new Error(`cannot run \`${name}\`: ${r.error.message}`);
}
