/** A file in the registry: what the service knows of some stored bytes. */
export interface StoredFile {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
  storageKey: string;
  createdAt: Date;
}

/** Who is asking: users see their own files, admins every file. */
export interface Viewer {
  id: string;
  role: 'user' | 'admin';
}
