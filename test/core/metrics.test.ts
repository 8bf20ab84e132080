import { describe, expect, it } from 'vitest';
import {
  escapeHelp,
  escapeLabelValue,
  renderExposition,
  runMetricFamilies,
  TARGET_STATUSES,
} from '../../src/core/metrics.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

const STARTED_MS = Date.UTC(2024, 4, 1, 12, 0, 0);

describe('core', () => {
  describe('runMetricFamilies()', () => {
    const text = renderExposition(
      runMetricFamilies({
        targets: [
          {
            name: 'web',
            status: 'up',
            stateFileAgeMs: 1500,
            rssBytes: 52_428_800,
            restarts: { incident: 3, planned: 1 },
          },
          {
            name: 'backup',
            status: 'stale',
            stateFileAgeMs: null,
            rssBytes: null,
            restarts: { incident: 0, planned: 0 },
          },
        ],
        runStartedMs: STARTED_MS,
        runEndedMs: STARTED_MS + 250,
        alertsPending: 2,
        intervalMs: 300_000,
      }),
    );
    const families = parsePrometheusText(text);

    it('gives every family HELP and TYPE, with Prometheus names and units', () => {
      for (const family of families.values()) {
        expect(family.help, family.name).toMatch(/\S/);
        expect(family.name).toMatch(/^cronwatch_[a-z_]+$/);
        if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
      }
      expect(families.get('cronwatch_target_restarts_total')?.type).toBe('counter');
      expect(families.get('cronwatch_target_up')?.type).toBe('gauge');
    });

    it('says up, and the state one-hot, per target', () => {
      expect(families.get('cronwatch_target_up')?.samples).toEqual([
        { name: 'cronwatch_target_up', labels: { target: 'web' }, value: 1 },
        { name: 'cronwatch_target_up', labels: { target: 'backup' }, value: 0 },
      ]);
      const states = families.get('cronwatch_target_state')!.samples;
      expect(states).toHaveLength(2 * TARGET_STATUSES.length);
      expect(states.filter((s) => s.value === 1).map((s) => s.labels)).toEqual([
        { target: 'web', state: 'up' },
        { target: 'backup', state: 'stale' },
      ]);
    });

    it('leaves out what was not observed, and gives seconds and bytes', () => {
      expect(families.get('cronwatch_target_state_file_age_seconds')?.samples).toEqual([
        { name: 'cronwatch_target_state_file_age_seconds', labels: { target: 'web' }, value: 1.5 },
      ]);
      expect(families.get('cronwatch_target_resident_memory_bytes')?.samples.map((s) => s.value)).toEqual([
        52_428_800,
      ]);
      expect(families.get('cronwatch_run_duration_seconds')?.samples[0]?.value).toBe(0.25);
      expect(families.get('cronwatch_last_run_timestamp_seconds')?.samples[0]?.value).toBe(
        (STARTED_MS + 250) / 1000,
      );
      expect(families.get('cronwatch_alerts_pending')?.samples[0]?.value).toBe(2);
      expect(families.get('cronwatch_interval_seconds')?.samples[0]?.value).toBe(300);
    });

    it('counts restarts per target, planned apart', () => {
      expect(
        families
          .get('cronwatch_target_restarts_total')
          ?.samples.filter((s) => s.labels.target === 'web')
          .map((s) => [s.labels.planned, s.value]),
      ).toEqual([
        ['false', 3],
        ['true', 1],
      ]);
    });
  });

  describe('renderExposition()', () => {
    it('escapes label values and help text so that a strict parser reads them back', () => {
      const odd = 'a "quoted" back\\slash\nnew line';
      const text = renderExposition([
        {
          name: 'x_info',
          help: 'help with \\ and\nnewline',
          type: 'gauge',
          samples: [{ labels: { v: odd }, value: Number.NaN }],
        },
        { name: 'y', help: 'inf', type: 'gauge', samples: [{ labels: {}, value: Number.NEGATIVE_INFINITY }] },
        { name: 'empty', help: 'no samples', type: 'gauge', samples: [] },
      ]);
      const families = parsePrometheusText(text);
      expect(families.get('x_info')?.help).toBe('help with \\ and\nnewline');
      expect(families.get('x_info')?.samples[0]?.labels.v).toBe(odd);
      expect(families.get('x_info')?.samples[0]?.value).toBeNaN();
      expect(families.get('y')?.samples[0]?.value).toBe(Number.NEGATIVE_INFINITY);
      expect(families.has('empty')).toBe(false);
      expect(escapeLabelValue('"\\\n')).toBe('\\"\\\\\\n');
      expect(escapeHelp('"\\\n')).toBe('"\\\\\\n');
    });
  });

  describe('parsePrometheusText() (the test parser)', () => {
    it.each([
      ['a timestamp', 'm 1 1700000000000\n'],
      ['a bad escape', 'm{a="\\t"} 1\n'],
      ['a non-numeric value', 'm one\n'],
      ['an invalid name', '1m 1\n'],
      ['a repeated series', 'm{a="1"} 1\nm{a="1"} 2\n'],
      ['an interleaved family', 'm 1\nn 1\nm{a="1"} 1\n'],
      ['a missing final line feed', 'm 1'],
      ['a second TYPE', '# TYPE m gauge\n# TYPE m gauge\nm 1\n'],
    ])('refuses %s', (_what, text) => {
      expect(() => parsePrometheusText(text)).toThrow();
    });
  });
});
