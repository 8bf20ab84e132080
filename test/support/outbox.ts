import { type OutboxEntry, readOutbox } from '../../src/store/outbox.js';

/** The envelopes queued in `stateDir`'s outbox, in enqueue order, as the next delivery sees them. */
export async function pending(stateDir: string): Promise<OutboxEntry[]> {
  return [...(await readOutbox(stateDir)).entries];
}
