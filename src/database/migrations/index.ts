import type { Migration } from 'kysely/migration';
import * as users from './0001-users.js';
import * as files from './0002-files.js';
import * as apiKeys from './0003-api-keys.js';
import * as externalIdentities from './0004-external-identities.js';
import * as pendingUploads from './0005-pending-uploads.js';
import * as loginAttempts from './0006-login-attempts.js';
import * as resumableUploads from './0007-resumable-uploads.js';
import * as auditEvents from './0008-audit-events.js';
import * as quotas from './0009-quotas.js';
import * as fileExpiry from './0010-file-expiry.js';

/** Every migration, in order. Imported statically, so the built server needs no file scanning. */
export const migrations: Record<string, Migration> = {
  '0001-users': users,
  '0002-files': files,
  '0003-api-keys': apiKeys,
  '0004-external-identities': externalIdentities,
  '0005-pending-uploads': pendingUploads,
  '0006-login-attempts': loginAttempts,
  '0007-resumable-uploads': resumableUploads,
  '0008-audit-events': auditEvents,
  '0009-quotas': quotas,
  '0010-file-expiry': fileExpiry,
};
