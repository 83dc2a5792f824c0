/** `ab/cd/<uuid>`: the only names the service gives stored bytes, made from the file's id. */
const STORAGE_KEY = /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/;

/** The key of the bytes of file `id`: sharded by its first hex digits, so no folder grows huge. */
export function storageKeyOf(id: string): string {
  return `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
}

/** Whether `key` is a name the service gives; anything else in a store is not its bytes. */
export function isStorageKey(key: string): boolean {
  return STORAGE_KEY.test(key);
}

/** The file id `key` was made from (`key` must be a storage key). */
export function fileIdOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
