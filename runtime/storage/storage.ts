/**
 * @module storage
 * The seam between reductio and the places files live: the local file system and S3. A `Storage`
 * reads, writes, lists and stats objects named by URI: an absolute local path (or a `file://` URL)
 * or `s3://bucket/key`. Every failure is a `ReductioError` naming the URI: FILE_NOT_FOUND,
 * PERMISSION_DENIED or STORAGE_ERROR.
 *
 * Get one with `storageFor(uri)` (storage-registry.ts); it loads the S3 adapter (and the AWS SDK)
 * only when an `s3://` URI needs it.
 */
import type { Readable } from "node:stream"

/** What a stat returns. */
export interface StorageStat {
  /** Size in bytes. */
  readonly size: number
  /** Last modification time in milliseconds (local files; S3's LastModified). */
  readonly mtimeMs?: number | undefined
  /** The S3 ETag, quotes removed (`<md5>` or `<md5>-<parts>` for multipart uploads). */
  readonly etag?: string | undefined
}

/** One object found by {@link Storage.list}. */
export interface StorageEntry extends StorageStat {
  /** Its full URI (same scheme and form as the listed prefix). */
  readonly uri: string
}

/** A byte range, both ends inclusive (as HTTP Range). `end` defaults to the last byte. */
export interface ByteRange {
  readonly start: number
  readonly end?: number | undefined
}

/** Options of {@link Storage.list}. */
export interface ListOptions {
  /** Objects fetched per page (S3 MaxKeys, at most 1000). Only changes how many calls are made. */
  readonly pageSize?: number
}

/** Options of a transfer ({@link Storage.upload}, {@link Storage.download}, {@link Storage.copy}). */
export interface TransferOptions {
  /** Called as bytes move, with the number just moved (progress bars). May be called with 0. */
  readonly onBytes?: (bytes: number) => void
  /** The source's stat, when the caller knows it (from a listing): saves a stat (S3: a HEAD). */
  readonly source?: StorageStat
}

/**
 * A place files live. Implementations: `LocalStorage` (local-storage.ts) and `S3Storage`
 * (s3-storage.ts). All methods are safe to call concurrently. Writes are atomic from a reader's
 * point of view: an object is either absent, the old bytes or the new bytes, never partial.
 *
 * Every write resolves to the {@link StorageStat} of what it wrote, as the write itself learnt it
 * (S3: the ETag of the PUT or of the completed multipart upload; local: a stat after the rename),
 * so a caller needs no stat (no HEAD) to hash what it just wrote. Transfers verify what they wrote
 * (size, and the MD5 behind an ETag where S3 gives one) and fail with TRANSFER_CORRUPT otherwise.
 *
 * @example
 * const storage = await storageFor("s3://bucket/scratch/jobs/abc/output")
 * await storage.writeBytes("s3://bucket/scratch/jobs/abc/output", bytes)
 */
export interface Storage {
  /** The URI scheme it serves: `file` or `s3`. */
  readonly scheme: string

  /** Bytes per part of this storage's multipart uploads (S3); undefined where objects have no parts. */
  readonly partSize?: number

  /**
   * Size, mtime and (S3) ETag of an object, or `undefined` when it does not exist. Never throws
   * for a missing object; throws PERMISSION_DENIED or STORAGE_ERROR for anything else.
   */
  stat(uri: string): Promise<StorageStat | undefined>

  /** True when the object exists (`stat` is not undefined). */
  exists(uri: string): Promise<boolean>

  /**
   * All bytes of an object, or of `range` of it. Throws FILE_NOT_FOUND when it does not exist.
   * Meant for small objects (job inputs, outputs); stream large ones with `createReadStream`.
   */
  readBytes(uri: string, range?: ByteRange): Promise<Uint8Array>

  /**
   * Creates or replaces an object (parent directories are created for local paths). Atomic:
   * readers never see a partial object. Idempotent for the same bytes.
   */
  writeBytes(uri: string, data: Uint8Array | string): Promise<StorageStat>

  /**
   * A stream of an object's bytes (or of `range`). Throws FILE_NOT_FOUND before returning when the
   * object does not exist, so a caller learns of it without reading.
   */
  createReadStream(uri: string, range?: ByteRange): Promise<Readable>

  /**
   * Creates or replaces an object from a stream, without holding it in memory (S3: a multipart
   * upload for large data). Resolves once the object is durably written; atomic as `writeBytes`.
   */
  writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<StorageStat>

  /**
   * Copies a local file to `uri`, streamed (S3: a multipart upload above the multipart threshold,
   * parts in parallel), retried with backoff, and verified. Throws FILE_NOT_FOUND naming the local
   * file when it does not exist.
   */
  upload(localPath: string, uri: string, options?: TransferOptions): Promise<StorageStat>

  /**
   * Copies an object to a local file, streamed, retried with backoff and verified against the
   * object's size and ETag; the local file appears only once complete. Resolves to the local
   * file's stat, with `etag` set to the object's ETag when the bytes were checked against it.
   * Throws FILE_NOT_FOUND when the object does not exist.
   */
  download(uri: string, localPath: string, options?: TransferOptions): Promise<StorageStat>

  /**
   * Every object whose URI starts with `prefix`, in lexicographic order of URI, fetched page by
   * page. A prefix ending in `/` lists a directory recursively. An empty listing is not an error.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<StorageEntry>

  /** Removes an object. Idempotent: deleting a missing object succeeds. */
  delete(uri: string): Promise<void>

  /**
   * Removes many objects (S3: DeleteObjects, 1,000 keys a request). Idempotent like `delete`; an
   * empty list makes no request.
   */
  deleteMany(uris: readonly string[]): Promise<void>

  /**
   * Copies an object to another URI of the same storage, server-side when it can (S3: a multipart
   * object is copied part by part with its own part size, so the copy keeps its ETag). Throws
   * FILE_NOT_FOUND when the source does not exist.
   */
  copy(fromUri: string, toUri: string, options?: TransferOptions): Promise<StorageStat>
}
