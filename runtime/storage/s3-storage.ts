/**
 * @module s3-storage
 * S3 as a {@link Storage}: with s3-transfer.ts, the only code of reductio that touches
 * `@aws-sdk/client-s3`. Load it with a dynamic import (`storageFor` does) so the kernel stays
 * loadable where the SDK is absent.
 *
 * Concurrency: every request waits for one of `concurrency` request slots, and every response
 * body being read holds one of as many stream slots, so however many files a workflow touches at
 * once, at most `2 × concurrency` sockets are in use: the SDK's socket pool is sized to exactly
 * that, and requests never queue inside the SDK (no "socket usage at capacity" warning).
 *
 * Retries: the SDK's standard retry strategy (exponential backoff with full jitter) covers 5xx,
 * `SlowDown` and the other throttling codes per request (`maxAttempts`); a transfer that still
 * fails, or whose bytes do not verify, is tried again whole (3 tries, backoff with jitter).
 */
import { finished, Readable } from "node:stream"
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3"
import { ReductioError } from "../errors.js"
import { readablePath, writablePath } from "./local-storage.js"
import { s3Error, statusOf, unquote } from "./s3-errors.js"
import { copyObject, downloadFile, putObject, type S3Context, send, uploadFile, uploadStream } from "./s3-transfer.js"
import type { ByteRange, ListOptions, Storage, StorageEntry, StorageStat, TransferOptions } from "./storage.js"
import { parseS3Uri, type S3Options } from "./storage-registry.js"
import { Slots, withRetries } from "./transfer-pool.js"

/** Options of an {@link S3Storage}: client settings plus transfer tuning. */
export interface S3StorageOptions extends S3Options {
  /** A ready client (tests, custom middleware); the client settings above are then ignored. */
  readonly client?: S3Client
  /** Parts uploaded (or copied) in parallel per transfer (default 4). */
  readonly queueSize?: number
  /** Single-part objects larger than this are copied part by part (default and S3's limit: 5 GiB). */
  readonly multipartCopyThreshold?: number
}

const MiB = 1024 * 1024
const DEFAULT_PART_SIZE = 8 * MiB
const MAX_SINGLE_COPY = 5 * 1024 * MiB
/** Requests in flight by default (the SDK's own default pool is 50 sockets). */
const DEFAULT_CONCURRENCY = 32
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000

/**
 * Objects in S3 (or an S3-compatible endpoint such as moto or MinIO).
 *
 * @example
 * const storage = new S3Storage({ region: "us-east-1", endpoint: "http://127.0.0.1:5000", forcePathStyle: true })
 * await storage.upload("reads.bam", "s3://bucket/run1/reads.bam")
 */
export class S3Storage implements Storage {
  readonly scheme = "s3"
  readonly #context: S3Context

  constructor(options: S3StorageOptions = {}) {
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY))
    const partSize = Math.max(5 * MiB, options.partSize ?? DEFAULT_PART_SIZE)
    this.#context = {
      client: options.client ?? new S3Client(clientConfig(options, 2 * concurrency)),
      requests: new Slots(concurrency),
      streams: new Slots(concurrency),
      partSize,
      threshold: Math.max(5 * MiB, options.multipartThreshold ?? partSize),
      queueSize: Math.max(1, options.queueSize ?? 4),
      copyThreshold: Math.min(options.multipartCopyThreshold ?? MAX_SINGLE_COPY, MAX_SINGLE_COPY),
    }
  }

  /** Bytes per part of a multipart upload. */
  get partSize(): number {
    return this.#context.partSize
  }

  async stat(uri: string): Promise<StorageStat | undefined> {
    const { bucket, key } = parseS3Uri(uri)
    try {
      const head = await this.#context.requests.run(() => this.#context.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))
      return { size: head.ContentLength ?? 0, mtimeMs: head.LastModified?.getTime(), etag: unquote(head.ETag) }
    } catch (error) {
      // HEAD has no body: a missing bucket and a missing key are both a bare 404.
      if (statusOf(error) === 404) return undefined
      throw s3Error(error, uri, "stat")
    }
  }

  async exists(uri: string): Promise<boolean> {
    return (await this.stat(uri)) !== undefined
  }

  async readBytes(uri: string, range?: ByteRange): Promise<Uint8Array> {
    const { body, release } = await this.#get(uri, range)
    try {
      return await body.transformToByteArray()
    } catch (error) {
      throw s3Error(error, uri, "read")
    } finally {
      release()
    }
  }

  async writeBytes(uri: string, data: Uint8Array | string): Promise<StorageStat> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    if (bytes.length < this.#context.threshold) return withRetries(() => putObject(this.#context, uri, bytes))
    return withRetries(() => uploadStream(this.#context, uri, [bytes]))
  }

  async createReadStream(uri: string, range?: ByteRange): Promise<Readable> {
    const { body, release } = await this.#get(uri, range)
    const stream = body as unknown as Readable
    finished(stream, () => release())
    return stream
  }

  async writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<StorageStat> {
    // A stream is read once: no whole-transfer retry (each request is still retried by the SDK).
    return uploadStream(this.#context, uri, source instanceof Readable ? source : Readable.from(source))
  }

  async upload(localPath: string, uri: string, options?: TransferOptions): Promise<StorageStat> {
    const path = await readablePath(localPath)
    return withRetries(() => uploadFile(this.#context, uri, path, progressOf(options)))
  }

  async download(uri: string, localPath: string, options?: TransferOptions): Promise<StorageStat> {
    const target = writablePath(localPath)
    return withRetries(() => downloadFile(this.#context, uri, target, progressOf(options)))
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<StorageEntry> {
    const { bucket, key } = parseS3Uri(prefix)
    let token: string | undefined
    do {
      const page = await send(this.#context, prefix, "list", () =>
        this.#context.client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: options.pageSize }),
        ),
      )
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue
        yield {
          uri: `s3://${bucket}/${object.Key}`,
          size: object.Size ?? 0,
          mtimeMs: object.LastModified?.getTime(),
          etag: unquote(object.ETag),
        }
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri)
    await send(this.#context, uri, "delete", () => this.#context.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
  }

  async deleteMany(uris: readonly string[]): Promise<void> {
    const byBucket = new Map<string, string[]>()
    for (const uri of uris) {
      const { bucket, key } = parseS3Uri(uri)
      const keys = byBucket.get(bucket) ?? []
      keys.push(key)
      byBucket.set(bucket, keys)
    }
    for (const [bucket, keys] of byBucket) {
      for (let i = 0; i < keys.length; i += DELETE_BATCH) {
        const batch = keys.slice(i, i + DELETE_BATCH)
        const where = `s3://${bucket}/${batch[0]}`
        const response = await send(this.#context, where, "delete", () =>
          this.#context.client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          ),
        )
        const failed = response.Errors?.[0]
        if (failed !== undefined) {
          const uri = `s3://${bucket}/${failed.Key ?? ""}`
          throw s3Error(Object.assign(new Error(failed.Message ?? "delete failed"), { name: failed.Code ?? "Error" }), uri, "delete")
        }
      }
    }
  }

  async copy(fromUri: string, toUri: string, options?: TransferOptions): Promise<StorageStat> {
    const source = options?.source ?? (await this.stat(fromUri))
    if (source === undefined)
      throw new ReductioError("FILE_NOT_FOUND", `cannot copy ${fromUri}: no such object`, { details: { uri: fromUri } })
    return withRetries(() => copyObject(this.#context, fromUri, toUri, source, progressOf(options)))
  }

  /** A GET's body, holding a stream slot until `release` (or the body's end). */
  async #get(uri: string, range?: ByteRange) {
    const { bucket, key } = parseS3Uri(uri)
    const Range = range === undefined ? undefined : `bytes=${range.start}-${range.end ?? ""}`
    const release = await this.#context.streams.take()
    try {
      const response = await send(this.#context, uri, "read", () =>
        this.#context.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range })),
      )
      if (response.Body === undefined)
        throw new ReductioError("STORAGE_ERROR", `cannot read ${uri}: the response has no body`, { details: { uri } })
      return { body: response.Body, release }
    } catch (error) {
      release()
      throw error
    }
  }
}

function progressOf(options: TransferOptions | undefined): ((bytes: number) => void) | undefined {
  return options?.onBytes
}

/** Builds the SDK client configuration from reductio's S3 options. */
function clientConfig(options: S3Options, sockets: number): S3ClientConfig {
  // The SDK warns once per process about Node 20's support window; that is not the user's concern.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  return {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? 6,
    // The pool matches the adapter's slots: requests wait in reductio, never inside the SDK.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: sockets }, httpsAgent: { keepAlive: true, maxSockets: sockets } },
    // Checksums only where S3 requires them: CRC32 over every byte costs CPU and adds nothing that
    // the Content-MD5 of each PUT and the ETag check do not already give.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  }
}
