/**
 * The fallback channel when none is configured: alerts on stderr, which cron mails to the owner.
 */

import { renderPlain } from '../core/format.js';
import type { Channel, SendResult } from './channel.js';

export interface ConsoleChannelOptions {
  /** Where alerts are written; default `process.stderr`. */
  readonly stream?: NodeJS.WritableStream;
}

export function createConsoleChannel(options: ConsoleChannelOptions = {}): Channel {
  const stream = options.stream ?? process.stderr;
  return {
    name: 'console',
    fingerprint: 'stderr',
    pacingMs: 0,
    render: (envelope, renderOptions) => [renderPlain(envelope, renderOptions)],
    send: (message) =>
      new Promise<SendResult>((resolve) => {
        stream.write(message, (error) => {
          resolve(
            error
              ? { kind: 'retry', error: `Could not write to stderr: ${error.message}` }
              : { kind: 'delivered' },
          );
        });
      }),
  };
}
