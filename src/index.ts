/**
 * cronwatch's SDK, for the programs it watches: prove you are alive, report your own failures.
 *
 * ```js
 * import { createNotifier, heartbeat, monitored, startHeartbeat } from 'cronwatch';
 * ```
 */

export type { Duration } from './sdk/duration.js';
export {
  type HeartbeatOptions,
  type HeartbeatRecord,
  type HeartbeatStatus,
  heartbeat,
} from './sdk/heartbeat.js';
export { monitored } from './sdk/monitored.js';
export {
  createNotifier,
  DEFAULT_DEDUP_WINDOW,
  DEFAULT_RATE_LIMIT,
  type FlushResult,
  type Notifier,
  type NotifierConfig,
  type NotifierTelegramConfig,
  type NotifyOptions,
  type NotifyResult,
  type RateLimit,
} from './sdk/notifier.js';
export { type StartHeartbeatOptions, type StopHeartbeat, startHeartbeat } from './sdk/start-heartbeat.js';
