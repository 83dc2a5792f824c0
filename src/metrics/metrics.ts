import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Registry,
  prometheusContentType,
} from 'prom-client';
import { LabelledHistogram, type HistogramHandle, type Labels } from './labelled-histogram.js';

export type { HistogramHandle, Labels };

/** A counter a feature increments itself, where nothing it already holds could be read instead. */
export interface CounterHandle<L extends string> {
  inc(labels: Labels<L>, value?: number): void;
}

/** Seconds: from a fast SQLite lookup (~0.1 ms) to a slow S3 write or a long download. */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const NO_COUNTER: CounterHandle<never> = { inc: () => undefined };
const NO_HISTOGRAM: HistogramHandle<never> = { observe: () => undefined };

/**
 * The service's Prometheus metrics: the one small interface features use to report, injected
 * like a logger (the module is global). With METRICS_TOKEN unset it is off: `enabled` is false,
 * every method does nothing and hands back handles that do nothing, so a feature reports the same
 * way either way and pays nothing when off.
 *
 * Prefer `gaugeFrom`/`counterFrom`, read when Prometheus scrapes, to counting on a hot path: they
 * read state a feature keeps anyway (slots held, a queue's length). Each metric is registered once
 * per application, on a registry of the application's own (not prom-client's global one), so
 * several applications in one process (the tests) do not clash. Names carry the `files_` prefix.
 */
export class Metrics {
  private constructor(private readonly registry: Registry | undefined) {}

  /** Metrics on: Node's default process metrics plus whatever the features register. */
  static on(): Metrics {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'files_' });
    return new Metrics(registry);
  }

  /** Metrics off: nothing is collected, and every call is a no-op. */
  static off(): Metrics {
    return new Metrics(undefined);
  }

  get enabled(): boolean {
    return this.registry !== undefined;
  }

  counter<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
  ): CounterHandle<L> {
    if (!this.registry) return NO_COUNTER;
    const counter = new Counter<L>({ name, help, labelNames, registers: [this.registry] });
    return { inc: (labels, value = 1) => counter.inc(labels, value) };
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[] = DURATION_BUCKETS,
  ): HistogramHandle<L> {
    if (!this.registry) return NO_HISTOGRAM;
    return new LabelledHistogram(name, help, labelNames, buckets, this.registry);
  }

  /** A gauge whose value `read` gives at each scrape (e.g. slots in use now). */
  gaugeFrom(name: string, help: string, read: () => number): void {
    if (!this.registry) return;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /**
   * A counter whose running total `read` gives at each scrape: for a total a feature keeps
   * anyway (requests refused so far, events dropped so far). It must only grow while the
   * process lives (the audit trail's dropped events, say).
   */
  counterFrom(name: string, help: string, read: () => number): void {
    if (!this.registry) return;
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /**
   * Counters by label whose running totals `read` gives at each scrape, one per label set: for
   * totals a hot path keeps in plain numbers, which cost it less than a prom-client counter's
   * `inc` (it checks and hashes the labels each time). Each total must only grow.
   */
  labelledCounterFrom<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: () => Iterable<readonly [Labels<L>, number]>,
  ): void {
    if (!this.registry) return;
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, total] of read()) this.inc(labels, total);
      },
    });
  }

  /** The exposition Prometheus scrapes, in its text format; empty when off. */
  async exposition(): Promise<string> {
    return this.registry ? this.registry.metrics() : '';
  }
}

/** The Content-Type of `exposition()`: Prometheus' text format 0.0.4. */
export const EXPOSITION_CONTENT_TYPE = prometheusContentType;
