import type { Selectable } from 'kysely';
import type { FilesTable } from '../database/tables.js';

/** A file in the registry: its row, with the time as a Date. */
export type StoredFile = Omit<Selectable<FilesTable>, 'createdAt'> & { createdAt: Date };
