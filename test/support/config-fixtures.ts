/** A target and a config as `validateConfig` would give them, for the pure core's tests. */
import type { Config, TargetConfig } from '../../src/core/types.js';

/** Target `bot` (`match: node bot`, `start: node bot.js`), with nothing optional set. */
export function targetConfig(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name: 'bot',
    match: 'node bot',
    pidfile: null,
    start: 'node bot.js',
    stop: null,
    cwd: '/srv',
    env: {},
    log: '/srv/bot.log',
    startGraceMs: 1000,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 1000,
    stateFile: null,
    maxAgeMs: null,
    maxMemoryBytes: null,
    maxCpuPercent: null,
    forRuns: 1,
    restartLimit: null,
    restartSchedule: null,
    pingUrl: null,
    instances: 1,
    restartOnError: false,
    ...overrides,
  };
}

/** Host `box`, every 5 minutes, no channel, no ping, no reminder. */
export function configWith(targets: TargetConfig[], overrides: Partial<Config> = {}): Config {
  return {
    file: '/srv/cronwatch.yaml',
    stateDir: '/srv/.cronwatch',
    intervalMs: 5 * 60_000,
    host: 'box',
    channels: { telegram: null, webhook: null },
    reminderMs: 0,
    heartbeatUrl: null,
    healthchecks: null,
    metricsTextfile: null,
    targets,
    secretEnv: [],
    unsetEnv: [],
    ...overrides,
  };
}
