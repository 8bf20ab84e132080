import { setTimeout as sleep } from 'node:timers/promises';

/** How often a waiting actuator looks at the process table again. */
export const POLL_INTERVAL_MS = 50;

/** Resolves with `promise`'s value, or with `'timeout'` once `timeoutMs` has passed first. */
export async function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks `condition` every {@link POLL_INTERVAL_MS} until it holds or `deadlineMs` (epoch ms) has
 * passed; true when it held. It is checked once more at the deadline, so a late success counts.
 */
export async function pollUntil(condition: () => boolean, deadlineMs: number): Promise<boolean> {
  for (;;) {
    if (condition()) return true;
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0) return false;
    await sleep(Math.min(POLL_INTERVAL_MS, leftMs));
  }
}
