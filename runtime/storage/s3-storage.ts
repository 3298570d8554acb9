/**
 * @module s3-storage
 * S3 as a {@link Storage}: the only file of reductio that touches `@aws-sdk/client-s3` and
 * `@aws-sdk/lib-storage`. Load it with a dynamic import (`storageFor` does) so the kernel stays
 * loadable where the SDK is absent.
 *
 * Retries: the SDK's standard retry strategy (exponential backoff with full jitter) covers 5xx,
 * `SlowDown` and the other throttling codes; `maxAttempts` sets how many tries.
 */
import { createReadStream, createWriteStream } from "node:fs"
import { mkdir, rename, rm, stat } from "node:fs/promises"
import { dirname, resolve } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { randomBytes } from "node:crypto"
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
} from "@aws-sdk/client-s3"
import { Upload } from "@aws-sdk/lib-storage"
import { ReductioError } from "../errors.js"
import { localError } from "./local-storage.js"
import type { ByteRange, ListOptions, Storage, StorageEntry, StorageStat } from "./storage.js"
import { parseS3Uri, type S3Options } from "./storage-registry.js"

/** Options of an {@link S3Storage}: client settings plus transfer tuning. */
export interface S3StorageOptions extends S3Options {
  /** A ready client (tests, custom middleware); the client settings above are then ignored. */
  readonly client?: S3Client
  /** Bytes per multipart part (default 8 MiB; S3's minimum is 5 MiB). */
  readonly partSize?: number
  /** Parts uploaded in parallel per upload (default 4). */
  readonly queueSize?: number
  /** Objects larger than this are copied part by part (default and S3's limit: 5 GiB). */
  readonly multipartCopyThreshold?: number
}

const MiB = 1024 * 1024
const DEFAULT_PART_SIZE = 8 * MiB
const MAX_SINGLE_COPY = 5 * 1024 * MiB

/**
 * Objects in S3 (or an S3-compatible endpoint such as moto or MinIO).
 *
 * @example
 * const storage = new S3Storage({ region: "us-east-1", endpoint: "http://127.0.0.1:5000", forcePathStyle: true })
 * await storage.upload("reads.bam", "s3://bucket/run1/reads.bam")
 */
export class S3Storage implements Storage {
  readonly scheme = "s3"
  readonly #client: S3Client
  readonly #partSize: number
  readonly #queueSize: number
  readonly #copyThreshold: number

  constructor(options: S3StorageOptions = {}) {
    this.#client = options.client ?? new S3Client(clientConfig(options))
    this.#partSize = Math.max(5 * MiB, options.partSize ?? DEFAULT_PART_SIZE)
    this.#queueSize = options.queueSize ?? 4
    this.#copyThreshold = Math.min(options.multipartCopyThreshold ?? MAX_SINGLE_COPY, MAX_SINGLE_COPY)
  }

  async stat(uri: string): Promise<StorageStat | undefined> {
    const { bucket, key } = parseS3Uri(uri)
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
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
    const body = await this.#get(uri, range)
    return body.transformToByteArray()
  }

  async writeBytes(uri: string, data: Uint8Array | string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri)
    await this.#send(uri, "write", () => this.#upload(bucket, key, data))
  }

  async createReadStream(uri: string, range?: ByteRange): Promise<Readable> {
    const body = await this.#get(uri, range)
    return body as unknown as Readable
  }

  async writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const { bucket, key } = parseS3Uri(uri)
    const body = source instanceof Readable ? source : Readable.from(source)
    await this.#send(uri, "write", () => this.#upload(bucket, key, body))
  }

  async upload(localPath: string, uri: string): Promise<void> {
    const path = resolve(localPath)
    // Stat first: a missing local file is FILE_NOT_FOUND naming it, not an upload error.
    await stat(path).catch((error: unknown) => {
      throw localError(error, path, "upload")
    })
    const { bucket, key } = parseS3Uri(uri)
    await this.#send(uri, "upload to", () => this.#upload(bucket, key, createReadStream(path, { highWaterMark: MiB })))
  }

  async download(uri: string, localPath: string): Promise<void> {
    const path = resolve(localPath)
    const body = await this.#get(uri)
    const tmp = `${path}.reductio-${randomBytes(6).toString("hex")}.tmp`
    try {
      await mkdir(dirname(path), { recursive: true })
      await pipeline(body as unknown as Readable, createWriteStream(tmp, { highWaterMark: MiB }))
      await rename(tmp, path)
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined)
      throw isSdkError(error) ? s3Error(error, uri, "download") : localError(error, path, "download to")
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<StorageEntry> {
    const { bucket, key } = parseS3Uri(prefix)
    let token: string | undefined
    do {
      const page = await this.#send(prefix, "list", () =>
        this.#client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: options.pageSize })),
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
    await this.#send(uri, "delete", () => this.#client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
  }

  async copy(fromUri: string, toUri: string): Promise<void> {
    const from = parseS3Uri(fromUri)
    const to = parseS3Uri(toUri)
    const source = `${from.bucket}/${encodeURIComponent(from.key).replaceAll("%2F", "/")}`
    const info = await this.stat(fromUri)
    if (info === undefined)
      throw new ReductioError("FILE_NOT_FOUND", `cannot copy ${fromUri}: no such object`, { details: { uri: fromUri } })
    if (info.size > this.#copyThreshold) {
      await this.#send(toUri, "copy to", () => this.#multipartCopy(source, info.size, to.bucket, to.key))
      return
    }
    await this.#send(toUri, "copy to", () =>
      this.#client.send(new CopyObjectCommand({ Bucket: to.bucket, Key: to.key, CopySource: source })),
    )
  }

  async #get(uri: string, range?: ByteRange) {
    const { bucket, key } = parseS3Uri(uri)
    const Range = range === undefined ? undefined : `bytes=${range.start}-${range.end ?? ""}`
    const response = await this.#send(uri, "read", () => this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range })))
    if (response.Body === undefined)
      throw new ReductioError("STORAGE_ERROR", `cannot read ${uri}: the response has no body`, { details: { uri } })
    return response.Body
  }

  async #upload(bucket: string, key: string, body: Uint8Array | string | Readable): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    })
    await upload.done()
  }

  /** Copies a large object part by part (CopyObject stops at 5 GiB). */
  async #multipartCopy(source: string, size: number, bucket: string, key: string): Promise<void> {
    const created = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
    const UploadId = created.UploadId
    const partSize = Math.max(this.#partSize, Math.ceil(size / 10_000))
    try {
      const parts: { ETag: string | undefined; PartNumber: number }[] = []
      const offsets = Array.from({ length: Math.ceil(size / partSize) }, (_, i) => i * partSize)
      await mapLimit(offsets, this.#queueSize, async (offset, i) => {
        const end = Math.min(offset + partSize, size) - 1
        const result = await this.#client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            CopySource: source,
            CopySourceRange: `bytes=${offset}-${end}`,
          }),
        )
        parts[i] = { ETag: result.CopyPartResult?.ETag, PartNumber: i + 1 }
      })
      await this.#client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined)
      throw error
    }
  }

  /** Runs one SDK call, mapping its failure to a ReductioError naming `uri`. */
  async #send<T>(uri: string, action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      throw s3Error(error, uri, action)
    }
  }
}

/** Builds the SDK client configuration from reductio's S3 options. */
function clientConfig(options: S3Options): S3ClientConfig {
  // The SDK warns once per process about Node 20's support window; that is not the user's concern.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  return {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? 6,
    // Checksums only where S3 requires them: CRC32 over every byte costs CPU and adds nothing that
    // TLS and the MD5-based ETag do not already give.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      await fn(items[index] as T, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replaceAll('"', "")
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
}

function isSdkError(error: unknown): boolean {
  return typeof error === "object" && error !== null && "$metadata" in error
}

const MISSING_KEY = new Set(["NoSuchKey", "NotFound"])
const DENIED = new Set(["AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"])

/** Maps an SDK failure to a ReductioError naming the URI (ReductioErrors pass through). */
export function s3Error(error: unknown, uri: string, action: string): ReductioError {
  if (error instanceof ReductioError) return error
  const name = (error as Error | undefined)?.name ?? "Error"
  const status = statusOf(error)
  const details = { uri, action, s3Code: name, ...(status === undefined ? {} : { status }) }
  if (name === "NoSuchBucket") {
    const { bucket } = parseS3Uri(uri)
    return new ReductioError("STORAGE_ERROR", `cannot ${action} ${uri}: bucket ${bucket} does not exist`, { cause: error, details })
  }
  if (MISSING_KEY.has(name) || status === 404) {
    return new ReductioError("FILE_NOT_FOUND", `cannot ${action} ${uri}: no such object`, { cause: error, details })
  }
  if (DENIED.has(name) || status === 403) {
    return new ReductioError("PERMISSION_DENIED", `cannot ${action} ${uri}: access denied (${name})`, { cause: error, details })
  }
  return new ReductioError("STORAGE_ERROR", `cannot ${action} ${uri}: ${name}: ${(error as Error).message}`, { cause: error, details })
}
