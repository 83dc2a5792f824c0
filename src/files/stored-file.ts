import type { Selectable } from 'kysely';
import type { FilesTable } from '../database/tables.js';

/** A file in the registry: its row, with the time as a Date. */
export type StoredFile = Omit<Selectable<FilesTable>, 'createdAt'> & { createdAt: Date };

/** Who is asking: users see their own files, admins every file. */
export interface Viewer {
  id: string;
  role: 'user' | 'admin';
}
