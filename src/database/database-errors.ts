/**
 * Recognises constraint errors of both drivers: better-sqlite3 names them by `code`
 * (SQLITE_CONSTRAINT_*), pg by SQLSTATE.
 */
function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : undefined;
}

export const isUniqueViolation = (error: unknown): boolean =>
  ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505'].includes(
    codeOf(error) ?? '',
  );

export const isForeignKeyViolation = (error: unknown): boolean =>
  ['SQLITE_CONSTRAINT_FOREIGNKEY', '23503'].includes(codeOf(error) ?? '');

export const isSerializationFailure = (error: unknown): boolean =>
  ['40001', '40P01'].includes(codeOf(error) ?? '');
