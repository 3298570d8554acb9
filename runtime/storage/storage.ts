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

/**
 * A place files live. Implementations: `LocalStorage` (local-storage.ts) and `S3Storage`
 * (s3-storage.ts). All methods are safe to call concurrently. Writes are atomic from a reader's
 * point of view: an object is either absent, the old bytes or the new bytes, never partial.
 *
 * @example
 * const storage = await storageFor("s3://bucket/scratch/jobs/abc/output")
 * await storage.writeBytes("s3://bucket/scratch/jobs/abc/output", bytes)
 */
export interface Storage {
  /** The URI scheme it serves: `file` or `s3`. */
  readonly scheme: string

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
  writeBytes(uri: string, data: Uint8Array | string): Promise<void>

  /**
   * A stream of an object's bytes (or of `range`). Throws FILE_NOT_FOUND before returning when the
   * object does not exist, so a caller learns of it without reading.
   */
  createReadStream(uri: string, range?: ByteRange): Promise<Readable>

  /**
   * Creates or replaces an object from a stream, without holding it in memory (S3: a multipart
   * upload for large data). Resolves once the object is durably written; atomic as `writeBytes`.
   */
  writeStream(uri: string, source: Readable | AsyncIterable<Uint8Array>): Promise<void>

  /** Copies a local file to `uri`, streamed (S3: multipart upload for large files). */
  upload(localPath: string, uri: string): Promise<void>

  /**
   * Copies an object to a local file, streamed; the local file appears only once complete.
   * Throws FILE_NOT_FOUND when the object does not exist.
   */
  download(uri: string, localPath: string): Promise<void>

  /**
   * Every object whose URI starts with `prefix`, in lexicographic order of URI, fetched page by
   * page. A prefix ending in `/` lists a directory recursively. An empty listing is not an error.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<StorageEntry>

  /** Removes an object. Idempotent: deleting a missing object succeeds. */
  delete(uri: string): Promise<void>

  /**
   * Copies an object to another URI of the same storage, server-side when it can. Throws
   * FILE_NOT_FOUND when the source does not exist.
   */
  copy(fromUri: string, toUri: string): Promise<void>
}
