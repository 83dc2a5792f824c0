import { Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics.js';
import { ImageGate, ImageMemoryBudget } from './image-gate.js';

/**
 * The image gate's state as metrics, read from the gates at each scrape: nothing is counted on
 * the way of an image.
 */
@Injectable()
export class ImageGateMetrics {
  constructor(metrics: Metrics, gate: ImageGate, memory: ImageMemoryBudget) {
    metrics.gaugeFrom(
      'files_image_slots_in_use',
      'Images being processed now (of IMAGE_CONCURRENCY slots)',
      () => gate.stats.active,
    );
    metrics.gaugeFrom(
      'files_image_slots_waiting',
      'Image requests waiting for a slot (at most IMAGE_QUEUE_LIMIT)',
      () => gate.stats.waiting,
    );
    metrics.counterFrom(
      'files_image_refused_total',
      'Image requests refused with 503: the queue was full, or the wait for a slot or for memory ran out',
      () => gate.refused + memory.refused,
    );
    metrics.gaugeFrom(
      'files_image_memory_reserved_bytes',
      'Working memory reserved by the images in progress, out of IMAGE_MEMORY_BUDGET_MB',
      () => memory.stats.used,
    );
    metrics.gaugeFrom(
      'files_image_memory_budget_bytes',
      'The whole image memory budget (IMAGE_MEMORY_BUDGET_MB), in bytes',
      () => memory.capacity,
    );
  }
}
