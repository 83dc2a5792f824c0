import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Logger, type LoggerService, type OnModuleDestroy } from '@nestjs/common';
import type { S3Config } from '../../config/app-config.js';
import { ByteMeter } from './byte-meter.js';
import {
  FileStore,
  StoredBytesMissingError,
  type ByteRange,
  type IncompleteWrite,
  type PresignOptions,
  type StoredObject,
  type WrittenBytes,
} from './file-store.js';
import { isStorageKey } from './storage-key.js';

export interface S3FileStoreOptions {
  /** Keys asked for per listing request; S3 answers 1000 at most. */
  pageSize?: number;
  /** Connections to the store at most; requests beyond wait for one to be free. */
  maxSockets?: number;
  /**
   * A connection on which nothing moves for this long is closed, failing its request. It must
   * exceed the downloads' idle timeout: a download whose client stops reading pauses its S3
   * response too, and the service, not the SDK, decides when that download has waited enough.
   */
  idleTimeoutMs?: number;
}

/**
 * Stored bytes in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO), each key under
 * `config.prefix`. Credentials come from the SDK's default chain (environment, profile, instance
 * role) and never pass through here.
 */
export class S3FileStore extends FileStore implements OnModuleDestroy {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly pageSize: number;

  constructor(
    config: S3Config,
    private readonly logger: LoggerService = new Logger(S3FileStore.name),
    options: S3FileStoreOptions = {},
  ) {
    super();
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.partSize = config.partSizeBytes;
    this.queueSize = config.queueSize;
    this.pageSize = options.pageSize ?? 1000;
    // Keep-alive: a download or part upload should not pay a TCP (and TLS) handshake each time.
    // The SDK's own default is 50 sockets, which 50 slow downloads would use up for everyone.
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256 };
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      // The SDK otherwise sends bodies as aws-chunked with a trailing CRC, which Ceph RGW 16
      // answers with 411; the registry keeps a SHA-256 of every file anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Options of the SDK's NodeHttpHandler.
      requestHandler: {
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
        connectionTimeout: 5_000,
        socketTimeout: options.idleTimeoutMs ?? 120_000,
      },
    });
  }

  /**
   * Up to `partSize` bytes go up in one PutObject; more in a multipart upload, `queueSize` parts
   * at once, so an upload holds about partSize × (queueSize + 1) bytes whatever its size.
   */
  async write(key: string, source: Readable): Promise<WrittenBytes> {
    const meter = new ByteMeter();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: meter },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    // A source that fails or is destroyed destroys the meter with that error, so the upload's
    // reading of it fails. Not `upload.abort()`: that rejects `done()` at once while parts may be
    // in flight and before the multipart upload is aborted; a failed read lets `done()` settle
    // only once every part request has ended and the multipart upload has been aborted.
    // `sourceFailure` settles with the source's failure, or undefined once all went through.
    const sourceFailure = pipeline(source, meter).then(
      () => undefined,
      (reason: Error) => reason,
    );
    try {
      await upload.done();
    } catch (error) {
      // A failed source failed the upload with its own error. Otherwise the store refused, and
      // the source may be mid-way, waiting for the meter to be read.
      source.destroy();
      await sourceFailure;
      // lib-storage aborted the multipart upload already; should that request have failed, this
      // second try may do, and if not, the sweeper finds the upload among incompleteWrites().
      await this.abortUpload(key, upload.uploadId).catch(() => undefined);
      throw error;
    }
    const failure = await sourceFailure;
    if (failure) {
      // The source failed after its end had been read (it should not): its bytes may be wrong.
      await this.remove(key);
      throw failure;
    }
    return meter.result();
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (range && range.end < range.start) {
      // No byte to fetch (an empty file): "bytes=0--1" is no range, and S3 would answer 416.
      if (!(await this.stat(key))) throw new StoredBytesMissingError(key);
      return Readable.from([]);
    }
    try {
      const { Body } = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          // A whole object unranged: the Range header costs RGW and the response parsing ~40%
          // more CPU per GiB (docs/benchmarks.md, "S3 store").
          Range: range && `bytes=${range.start}-${range.end}`,
        }),
      );
      // In Node the body is the HTTP response itself: destroying it closes the connection.
      return Body as Readable;
    } catch (error) {
      if (isS3Error(error, 'NoSuchKey')) throw new StoredBytesMissingError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { key, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (error) {
      // A HEAD answer has no body, so no error code: 404 is all there is to go by.
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) {
        return undefined;
      }
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    // S3 answers 204 whether or not the key was there.
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
    );
  }

  /**
   * Skips, with one warning per listing, keys under the prefix that the service did not name:
   * they are not stored bytes, so they are neither keys nor the sweeper's to remove.
   */
  async *list(): AsyncIterable<StoredObject> {
    const strays: string[] = [];
    let strayCount = 0;
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix,
            MaxKeys: this.pageSize,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key!.slice(this.prefix.length);
          if (!isStorageKey(key)) {
            if (strayCount++ < 5) strays.push(key);
            continue;
          }
          yield { key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } finally {
      if (strayCount > 0) {
        this.logger.warn(
          `${strayCount} object(s) under s3://${this.bucket}/${this.prefix} are not stored files ` +
            `and were left alone (${strays.join(', ')}${strayCount > strays.length ? ', …' : ''})`,
        );
      }
    }
  }

  /** Multipart uploads under the prefix that were neither completed nor aborted. */
  async *incompleteWrites(): AsyncIterable<IncompleteWrite> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.prefix,
          MaxUploads: this.pageSize,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        const key = upload.Key!.slice(this.prefix.length);
        // Like list(): an upload to a name the service does not give is not its own.
        if (!isStorageKey(key)) continue;
        yield {
          key,
          startedAt: upload.Initiated ?? new Date(0),
          discard: () => this.abortUpload(key, upload.UploadId),
        };
      }
      [keyMarker, uploadIdMarker] = page.IsTruncated
        ? [page.NextKeyMarker, page.NextUploadIdMarker]
        : [undefined, undefined];
    } while (keyMarker !== undefined);
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  override presignedUrl(key: string, options: PresignOptions): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ResponseContentType: options.contentType,
      ResponseContentDisposition: options.contentDisposition,
    });
    return getSignedUrl(this.client, command, { expiresIn: options.expiresInSeconds });
  }

  /** Closes the idle keep-alive connections, so a stopping process does not wait on them. */
  onModuleDestroy(): void {
    this.client.destroy();
  }

  /** Aborts multipart upload `uploadId` of `key` (if any); one already gone is not an error. */
  private async abortUpload(key: string, uploadId: string | undefined): Promise<void> {
    if (uploadId === undefined) return;
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          UploadId: uploadId,
        }),
      );
    } catch (error) {
      if (!isS3Error(error, 'NoSuchUpload')) throw error;
    }
  }

  private objectKey(key: string): string {
    return this.prefix + key;
  }
}

function isS3Error(error: unknown, name: string): boolean {
  return error instanceof S3ServiceException && error.name === name;
}
