import type { Migration } from 'kysely/migration';
import * as users from './0001-users.js';
import * as files from './0002-files.js';

/** Every migration, in order. Imported statically, so the built server needs no file scanning. */
export const migrations: Record<string, Migration> = {
  '0001-users': users,
  '0002-files': files,
};
