/** Samples this process's resident memory every 50 ms until stopped. */
export function rssSampler(): { stop(): { peakMiB: number; baselineMiB: number } } {
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  const baselineMiB = mib();
  let peakMiB = baselineMiB;
  const timer = setInterval(() => (peakMiB = Math.max(peakMiB, mib())), 50);
  return {
    stop() {
      clearInterval(timer);
      return { peakMiB: Math.max(peakMiB, mib()), baselineMiB };
    },
  };
}
