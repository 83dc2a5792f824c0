import type { AppConfig } from '../../config/app-config.js';
import type { FileStore } from './file-store.js';
import { LocalFileStore } from './local-file-store.js';

/** The store STORAGE_DRIVER names. */
export function createFileStore(config: AppConfig): FileStore {
  switch (config.storage.driver) {
    case 'local':
      return new LocalFileStore(config);
    case 's3':
      throw new Error('STORAGE_DRIVER=s3 is not built yet');
  }
}
