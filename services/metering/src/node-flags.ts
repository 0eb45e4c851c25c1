/**
 * Node's flags for the metering process, passed by whoever starts it
 * (`vault start`, the benchmark, the SIGKILL test). An 8 MiB young generation
 * instead of V8's 16: a batch's garbage is collected as often, in smaller
 * pieces, and the process stays under its memory goal. Measured with
 * `bench:metering` (500,000 events): peak RSS 268 MiB against 289–303, the same
 * CPU per event; a 160 MiB old generation instead kept it at 195 MiB but cost
 * 5 µs an event more in garbage collection.
 */
export const METERING_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
