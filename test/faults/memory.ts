// Samples the resident memory of named processes through /proc: VmRSS at
// each sample and VmHWM (the kernel's own peak, which also catches what
// happened between two samples). One name may stand for several processes
// over time (an app's incarnations) or at once (PostgreSQL's backends).
import { readFileSync } from 'node:fs';

export interface MemoryPeak {
  name: string;
  /** Largest VmRSS or VmHWM of any one of its processes, bytes. */
  peakBytes: number;
  samples: number;
  /** Distinct pids seen. */
  processes: number;
}

export interface MemorySampler {
  peaks(): MemoryPeak[];
  stop(): MemoryPeak[];
}

function status(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** A process and its children (PostgreSQL's backends are the postmaster's children). */
export function withChildren(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

export function sampleMemory(targets: () => { name: string; pids: number[] }[], everyMs = 200): MemorySampler {
  const peaks = new Map<string, MemoryPeak & { pidSet: Set<number> }>();
  const sample = () => {
    for (const { name, pids } of targets()) {
      const peak = peaks.get(name) ?? { name, peakBytes: 0, samples: 0, processes: 0, pidSet: new Set<number>() };
      peaks.set(name, peak);
      for (const pid of pids) {
        const s = status(pid);
        if (!s) continue;
        peak.samples++;
        peak.pidSet.add(pid);
        peak.processes = peak.pidSet.size;
        peak.peakBytes = Math.max(peak.peakBytes, s.rss, s.hwm);
      }
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  const list = () => [...peaks.values()].map(({ pidSet: _, ...p }) => p);
  return {
    peaks: list,
    stop() {
      clearInterval(timer);
      sample();
      return list();
    },
  };
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
