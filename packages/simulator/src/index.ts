export { simulatePlatform, SimulationOptions, DEMO_ACCOUNT, type Simulated, type SimulationSummary } from './platform.ts';
export { demoWindow, recentWindow, type DemoWindow, type SimulationWindow } from './window.ts';
export { SOURCES } from './event-log.ts';
export { PLATFORM_START } from './platform-time.ts';
export { JOB_NAME } from './app-activity.ts';
export { ADDON_SERVICES, ONE_OFF_SIZES, WEB_SIZES, WORKER_SIZES, LATE_ONE_OFF_SIZE } from './catalog.ts';
export { mulberry32, hash32, Rng } from './prng.ts';
