import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type MultipartUpload,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../../src/config/app-config.js';

/**
 * What an app (or a server process) needs in its environment to store its bytes in `bucket`:
 * the driver, the bucket and its prefix, and the run's credentials for the SDK's default chain.
 */
export function storageEnvOf(bucket: TestBucket): Record<string, string> {
  const { config } = bucket;
  return {
    STORAGE_DRIVER: 's3',
    S3_BUCKET: config.bucket,
    S3_ENDPOINT: config.endpoint!,
    S3_REGION: config.region,
    S3_PREFIX: config.prefix,
    S3_PART_SIZE_MB: String(config.partSizeBytes / 2 ** 20),
    S3_UPLOAD_QUEUE_SIZE: String(config.queueSize),
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
  };
}

/**
 * The bucket of the run (global-setup.ts: a Ceph RGW of its own, or TEST_S3_ENDPOINT), under a
 * prefix no other test uses, with a client of its own to look at what the store left there.
 */
export class TestBucket {
  readonly config: S3Config;
  /** A plain SDK client, not the store's: to see objects and uploads as S3 holds them. */
  readonly client: S3Client;

  constructor(overrides: Partial<S3Config> = {}) {
    const endpoint = process.env.TEST_S3_ENDPOINT;
    if (!endpoint) throw new Error('TEST_S3_ENDPOINT is unset: did global-setup.ts run?');
    this.config = {
      bucket: process.env.TEST_S3_BUCKET!,
      endpoint,
      region: process.env.TEST_S3_REGION!,
      forcePathStyle: true,
      prefix: `test-${randomBytes(6).toString('hex')}/`,
      // S3's least part size, and two at once: a few MiB make a multipart upload.
      partSizeBytes: 5 * 2 ** 20,
      queueSize: 2,
      ...overrides,
    };
    this.client = new S3Client({
      endpoint,
      region: this.config.region,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Every object key under the prefix (the prefix left out), storage key or not. */
  async objectKeys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.config.prefix,
          ContinuationToken: token,
        }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice(this.config.prefix.length)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  /** Multipart uploads under the prefix that were neither completed nor aborted. */
  async multipartUploads(): Promise<MultipartUpload[]> {
    const page = await this.client.send(
      new ListMultipartUploadsCommand({ Bucket: this.config.bucket, Prefix: this.config.prefix }),
    );
    return page.Uploads ?? [];
  }

  /** Puts `bytes` at `key` under the prefix, as another program sharing the bucket would. */
  async putObject(key: string, bytes: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: this.config.prefix + key,
        Body: bytes,
      }),
    );
  }

  /** Removes every object and upload under the prefix, and closes the client. */
  async cleanup(): Promise<void> {
    try {
      for (const upload of await this.multipartUploads()) {
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.config.bucket,
            Key: upload.Key,
            UploadId: upload.UploadId,
          }),
        );
      }
      // One by one: DeleteObjects requires a checksum, which the SDK now sends as a CRC32 that
      // Ceph RGW 16 does not know (it wants Content-MD5). A test leaves a few dozen keys at most.
      const keys = await this.objectKeys();
      await Promise.all(
        keys.map((key) =>
          this.client.send(
            new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.config.prefix + key }),
          ),
        ),
      );
    } finally {
      this.client.destroy();
    }
  }
}
