import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Logger, type LoggerService, type OnModuleDestroy } from '@nestjs/common';
import type { S3Config } from '../../config/app-config.js';
import { ByteMeter } from './byte-meter.js';
import {
  FileStore,
  StoredBytesMissingError,
  type AppendedBytes,
  type ByteRange,
  type IncompleteWrite,
  type PresignOptions,
  type ResumableWrite,
  type StoredObject,
  type WrittenBytes,
} from './file-store.js';
import { fileIdOf, isStorageKey, storageKeyOf } from './storage-key.js';

/** S3 takes 10,000 parts in a multipart upload at most. */
const MAX_PARTS = 10_000;

/** What a resumable write is, to S3 (its `state`). */
interface S3ResumableState {
  length: number;
  uploadId: string;
  /** Every part but the last has this size, S3's minimum (5 MiB) or more. */
  partSize: number;
  /** ETags of the parts uploaded, part 1 first. */
  etags: string[];
  /** Bytes past the last whole part, too few for a part of their own: an object of their own. */
  tail?: { start: number; end: number };
}

/** Where the tail objects of resumable writes are, under the prefix: not storage keys. */
const TAILS = 'resumable/';
const TAIL_KEY = /^resumable\/([0-9a-f-]{36})\/\d+-\d+$/;

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

  /**
   * A multipart upload, with parts of S3_PART_SIZE_MB or more (enough for the whole length in
   * S3's 10,000 parts). An append that ends between part boundaries keeps the bytes past the last
   * whole part as a tail object, which the next append sends first.
   */
  async startResumable(key: string, length: number): Promise<ResumableWrite> {
    const mib = 1024 * 1024;
    const partSize = Math.max(this.partSize, Math.ceil(length / MAX_PARTS / mib) * mib);
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
    );
    const state: S3ResumableState = { length, uploadId: UploadId!, partSize, etags: [] };
    return { offset: 0, state: JSON.stringify(state) };
  }

  /**
   * Holds S3_PART_SIZE_MB × (S3_UPLOAD_QUEUE_SIZE + 1) bytes at most, plus a chunk, whatever the
   * append's size, as `write` does. (Parts grow past S3_PART_SIZE_MB only for uploads larger than
   * 10,000 of them, 78 GiB at 8 MiB.) Each append sends the previous one's tail again first: with
   * small appends, that is up to a part's worth each time.
   */
  async appendResumable(
    key: string,
    write: ResumableWrite,
    source: AsyncIterable<Buffer>,
    accepted: (chunk: Buffer) => void,
  ): Promise<AppendedBytes> {
    const before = JSON.parse(write.state) as S3ResumableState;
    const state: S3ResumableState = { ...before, etags: [...before.etags], tail: undefined };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    if (before.tail) {
      const { Body } = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.tailKey(key, before.tail) }),
      );
      const tail = await buffer(Body as Readable);
      pending.push(tail);
      pendingBytes = tail.length;
    }
    // Up to S3_UPLOAD_QUEUE_SIZE parts go up while the source is read on, as write() sends them.
    const sending = new Set<Promise<void>>();
    let failure: Error | undefined;
    const sendPart = async (bytes: number) => {
      const all = Buffer.concat(pending, pendingBytes);
      // A copy: a view would keep the whole part's buffer alive after the part went up.
      pending = bytes < all.length ? [Buffer.from(all.subarray(bytes))] : [];
      pendingBytes = all.length - bytes;
      const index = state.etags.length;
      state.etags.push(''); // its place, in part order, whichever part is answered first
      const sent = this.client
        .send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: this.objectKey(key),
            UploadId: state.uploadId,
            PartNumber: index + 1,
            Body: all.subarray(0, bytes),
          }),
        )
        .then(({ ETag }) => void (state.etags[index] = ETag!))
        .catch((error: unknown) => {
          failure ??= error instanceof Error ? error : new Error(String(error));
        })
        .finally(() => sending.delete(sent));
      sending.add(sent);
      while (sending.size >= this.queueSize) await Promise.race(sending);
    };
    const allSent = async () => {
      await Promise.all(sending);
      if (failure !== undefined) throw failure;
    };
    let offset = write.offset;
    try {
      for await (const chunk of source) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        offset += chunk.length;
        accepted(chunk);
        if (pendingBytes >= state.partSize) await sendPart(state.partSize);
        if (failure !== undefined) break; // the store failed: reading on is no use
      }
      if (offset === state.length && pendingBytes > 0) {
        await sendPart(pendingBytes); // the last part, which may be smaller
      }
      await allSent();
    } finally {
      await Promise.all(sending); // no request of this append outlives it
    }
    if (offset !== state.length && pendingBytes > 0) {
      state.tail = { start: offset - pendingBytes, end: offset };
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.tailKey(key, state.tail),
          Body: Buffer.concat(pending, pendingBytes),
        }),
      );
    }
    const released = before.tail;
    return {
      write: { offset, state: JSON.stringify(state) },
      release: async () => {
        if (released && released.end !== state.tail?.end) await this.removeTail(key, released);
      },
    };
  }

  async completeResumable(key: string, write: ResumableWrite): Promise<void> {
    const state = JSON.parse(write.state) as S3ResumableState;
    if (state.etags.length === 0) {
      // An empty file: a multipart upload needs a part, so a plain one.
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: '' }),
      );
      await this.abortUpload(key, state.uploadId);
      return;
    }
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          UploadId: state.uploadId,
          MultipartUpload: {
            Parts: state.etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })),
          },
        }),
      );
    } catch (error) {
      // Completed before (the registry row failed after): the object is in place already.
      if (!isS3Error(error, 'NoSuchUpload') || (await this.stat(key))?.size !== state.length) {
        throw error;
      }
    }
    // Tails of appends whose standing was never saved (a checksum that did not match).
    await this.removeTails(key);
  }

  async abortResumable(key: string, write: ResumableWrite): Promise<void> {
    const state = JSON.parse(write.state) as S3ResumableState;
    await this.abortUpload(key, state.uploadId);
    await this.removeTails(key);
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
          if (key.startsWith(TAILS)) continue; // resumable writes' tails: incompleteWrites()
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

  /**
   * Multipart uploads under the prefix that were neither completed nor aborted, then the tail
   * objects of resumable writes, each under the key of its write.
   */
  async *incompleteWrites(): AsyncIterable<IncompleteWrite> {
    yield* this.multipartUploads();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + TAILS,
          MaxKeys: this.pageSize,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        const id = TAIL_KEY.exec(object.Key!.slice(this.prefix.length))?.[1];
        if (id === undefined) continue;
        yield {
          key: storageKeyOf(id),
          startedAt: object.LastModified ?? new Date(0),
          discard: async () => {
            await this.client.send(
              new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }),
            );
          },
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async *multipartUploads(): AsyncIterable<IncompleteWrite> {
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

  private tailKey(key: string, tail: { start: number; end: number }): string {
    return `${this.prefix}${TAILS}${fileIdOf(key)}/${tail.start}-${tail.end}`;
  }

  /** Every tail object of the resumable write of `key`. */
  private async removeTails(key: string): Promise<void> {
    const { Contents = [] } = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: `${this.prefix}${TAILS}${fileIdOf(key)}/`,
      }),
    );
    for (const object of Contents) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
    }
  }

  private async removeTail(key: string, tail: { start: number; end: number }): Promise<void> {
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: this.tailKey(key, tail) }),
    );
  }
}

function isS3Error(error: unknown, name: string): boolean {
  return error instanceof S3ServiceException && error.name === name;
}
