import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/core/version.js';
import { ROOT } from '../support/cli.js';

describe('core', () => {
  describe('VERSION', () => {
    it("is package.json's version", () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(VERSION).toBe(pkg.version);
    });
  });
});
