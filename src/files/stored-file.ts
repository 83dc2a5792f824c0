import type { Selectable } from 'kysely';
import type { FilesTable } from '../database/tables.js';

/** A file in the registry: its row, with the times as Dates. Never changed once read. */
export type StoredFile = Readonly<
  Omit<Selectable<FilesTable>, 'createdAt' | 'expiresAt'> & {
    createdAt: Date;
    /** When it stops existing; null: until it is deleted. */
    expiresAt: Date | null;
  }
>;
