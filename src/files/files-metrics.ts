import { Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics.js';
import { FileResponder } from './download/file-responder.js';
import { ResumableUploads } from './resumable/resumable-uploads.service.js';
import { PendingUploads } from './upload/pending-uploads.js';

/**
 * Transfers in flight as metrics, read at each scrape from what the files module counts anyway
 * (download slots, pending marks, appends): nothing is counted on a transfer's way for them.
 */
@Injectable()
export class FilesMetrics {
  constructor(
    metrics: Metrics,
    responder: FileResponder,
    pending: PendingUploads,
    resumable: ResumableUploads,
  ) {
    metrics.gaugeFrom(
      'files_downloads_in_flight',
      'Downloads sending their body now (authenticated and signed links)',
      () => responder.downloadsInProgress,
    );
    metrics.gaugeFrom(
      'files_uploads_in_flight',
      'Uploads on their way into the store: POST /files bodies and blurred images not yet ' +
        'registered, and resumable (tus) appends running',
      () => pending.inProgress + resumable.appendsInProgress,
    );
  }
}
