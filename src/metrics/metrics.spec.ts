import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Metrics } from './metrics.js';

describe('Metrics', () => {
  it('does nothing when off: handles that count nothing, and an empty exposition', async () => {
    const metrics = Metrics.off();
    expect(metrics.enabled).toBe(false);
    metrics.counter('files_test_total', 'a test', ['kind']).inc({ kind: 'a' });
    metrics.histogram('files_test_seconds', 'a test', ['kind']).observe({ kind: 'a' }, 1);
    metrics.gaugeFrom('files_test_gauge', 'a test', () => {
      throw new Error('never read when off');
    });
    expect(await metrics.exposition()).toBe('');
  });

  it('reads gaugeFrom and counterFrom at each scrape, not before', async () => {
    const metrics = Metrics.on();
    let inUse = 3;
    let refused = 7;
    metrics.gaugeFrom('files_test_in_use', 'in use now', () => inUse);
    metrics.counterFrom('files_test_refused_total', 'refused so far', () => refused);
    const valueOf = async (name: string) =>
      parsePrometheusTextFormat(await metrics.exposition()).find((f) => f.name === name)?.metrics[0]
        .value;
    expect(await valueOf('files_test_in_use')).toBe('3');
    expect(await valueOf('files_test_refused_total')).toBe('7');
    inUse = 0;
    refused = 9;
    expect(await valueOf('files_test_in_use')).toBe('0');
    expect(await valueOf('files_test_refused_total')).toBe('9');
    const types = parsePrometheusTextFormat(await metrics.exposition());
    expect(types.find((f) => f.name === 'files_test_refused_total')?.type).toBe('COUNTER');
  });

  it('reads labelledCounterFrom at each scrape, a series per label set', async () => {
    const metrics = Metrics.on();
    const totals = new Map([['a', 2]]);
    metrics.labelledCounterFrom('files_test_moved_total', 'moved so far', ['kind'], () =>
      Array.from(totals, ([kind, total]) => [{ kind }, total] as const),
    );
    const series = async () =>
      parsePrometheusTextFormat(await metrics.exposition())
        .find((f) => f.name === 'files_test_moved_total')
        ?.metrics.map((m) => [m.labels?.kind, m.value]);
    expect(await series()).toEqual([['a', '2']]);
    totals.set('a', 5).set('b', 1);
    expect(await series()).toEqual([
      ['a', '5'],
      ['b', '1'],
    ]);
  });

  it('keeps a registry per instance: two apps in one process register the same names', async () => {
    const first = Metrics.on();
    const second = Metrics.on();
    first.counter('files_same_total', 'the same name', []).inc({}, 2);
    second.counter('files_same_total', 'the same name', []).inc({});
    expect(await first.exposition()).toContain('files_same_total 2');
    expect(await second.exposition()).toContain('files_same_total 1');
    // Node's default metrics, prefixed, in each.
    expect(await second.exposition()).toContain('files_process_cpu_user_seconds_total');
  });
});
