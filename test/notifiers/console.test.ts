import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createConsoleChannel } from '../../src/notifiers/console.js';

describe('notifiers/console', () => {
  describe('createConsoleChannel()', () => {
    it('writes the envelope as plain text, one write per envelope', async () => {
      const stream = new PassThrough();
      const chunks: string[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
      const channel = createConsoleChannel({ stream });
      const envelope = {
        id: 'e1',
        host: 'web-1',
        createdMs: 0,
        silent: false,
        alerts: [{ kind: 'test', atMs: 0 }],
      } as const;
      const parts = channel.render(envelope, { delayed: false });
      expect(parts).toHaveLength(1);
      expect(await channel.send(parts[0]!, { silent: false })).toEqual({ kind: 'delivered' });
      expect(chunks.join('')).toBe(
        'cronwatch on web-1, 1970-01-01 00:00 UTC:\n  Test alert from cronwatch: this channel works.\n',
      );
    });
  });
});
