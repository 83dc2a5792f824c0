import type { AppConfig } from '../../config/app-config.js';
import type { FileStore } from './file-store.js';
import { LocalFileStore } from './local-file-store.js';
import { S3FileStore } from './s3-file-store.js';

/** The store STORAGE_DRIVER names. */
export function createFileStore(config: AppConfig): FileStore {
  switch (config.storage.driver) {
    case 'local':
      return new LocalFileStore(config);
    case 's3':
      return new S3FileStore(config.storage, undefined, {
        // A paused download pauses its S3 response: the service's own idle timeout must end it
        // first (DownloadSlots), not the SDK's.
        idleTimeoutMs: Math.max(120, 2 * config.downloads.idleTimeoutSeconds) * 1000,
      });
  }
}
