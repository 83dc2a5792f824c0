import { Histogram, Registry } from 'prom-client';
import { LabelledHistogram } from './labelled-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES: [string, number][] = [
  ['a', 0.0005],
  ['a', 0.001],
  ['a', 0.05],
  ['b', 0.5],
  ['a', 7],
  ['b', 0.01],
];

describe('LabelledHistogram', () => {
  it("exposes what prom-client's own histogram exposes for the same values", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const histogram = new LabelledHistogram(
      'files_test_seconds',
      'a test',
      ['kind'],
      BUCKETS,
      ours,
    );
    const reference = new Histogram({
      name: 'files_test_seconds',
      help: 'a test',
      labelNames: ['kind'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const labelsOf = { a: { kind: 'a' }, b: { kind: 'b' } };
    for (const [kind, value] of VALUES) {
      // Once the same object, once a new one with the same values: one series either way.
      histogram.observe(value > 0.01 ? labelsOf[kind as 'a' | 'b'] : { kind }, value);
      reference.observe({ kind }, value);
    }
    const exposition = await ours.metrics();
    expect(exposition).toBe(await theirs.metrics());
    expect(exposition).toContain('# TYPE files_test_seconds histogram');
    expect(exposition).toContain('files_test_seconds_bucket{le="0.01",kind="a"} 2');
    expect(exposition).toContain('files_test_seconds_count{kind="a"} 4');
    expect(exposition).toContain('files_test_seconds_count{kind="b"} 2');
  });

  it('starts again from nothing after a reset, whichever labels object is passed', async () => {
    const registry = new Registry();
    const histogram = new LabelledHistogram(
      'files_test_seconds',
      'a test',
      ['kind'],
      BUCKETS,
      registry,
    );
    const labels = { kind: 'a' };
    histogram.observe(labels, 0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('files_test_seconds_count');
    histogram.observe(labels, 0.5);
    histogram.observe(labels, Number.NaN);
    const exposition = await registry.metrics();
    expect(exposition).toContain('files_test_seconds_count{kind="a"} 1');
    expect(exposition).toContain('files_test_seconds_sum{kind="a"} 0.5');
  });
});
