/**
 * @module s3-transfer
 * The S3 adapter's transfers (with s3-storage.ts, the only code touching `@aws-sdk/client-s3`):
 * uploads (one PUT below the multipart threshold, else parts in parallel), downloads and
 * server-side copies. Every request carries or is checked against an MD5: each PUT and part sends
 * `Content-MD5`, and the ETag S3 answers with is compared with the one computed from the bytes
 * sent; a download hashes what it writes and compares it with the object's ETag. Memory stays at
 * about `queueSize + 1` parts per upload, whatever the size.
 */
import { createHash, randomBytes } from "node:crypto"
import { createWriteStream } from "node:fs"
import { mkdir, open, rename, rm, stat } from "node:fs/promises"
import { type Readable, Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3"
import { ReductioError } from "../errors.js"
import { EtagBuilder, etagMatches, localEtags, multipartEtag, partSizeCandidates, partsOf } from "./etag.js"
import { type FsPath, localError, parentOf, withSuffix } from "./local-storage.js"
import { corrupt, etagIsNotMd5, isSdkError, s3Error, unquote } from "./s3-errors.js"
import type { StorageStat } from "./storage.js"
import { parseS3Uri } from "./storage-registry.js"
import { mapLimit, type Slots } from "./transfer-pool.js"

const MiB = 1024 * 1024
/** S3's limit on parts per upload. */
const MAX_PARTS = 10_000

/** What the transfers share: the client, its request and stream slots, and the sizes. */
export interface S3Context {
  readonly client: S3Client
  /** Slots for requests in flight (every request takes one until its response arrives). */
  readonly requests: Slots
  /** Slots for response bodies being read (a GET holds one until its body ends). */
  readonly streams: Slots
  readonly partSize: number
  /** Objects of at least this many bytes are uploaded in parts. */
  readonly threshold: number
  /** Parts in flight per upload or copy. */
  readonly queueSize: number
  /** Single-part objects larger than this are copied part by part (S3's limit: 5 GiB). */
  readonly copyThreshold: number
}

/** Runs one SDK call in a request slot, mapping its failure to a ReductioError naming `uri`. */
export async function send<T>(context: S3Context, uri: string, action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await context.requests.run(call)
  } catch (error) {
    throw s3Error(error, uri, action)
  }
}

/** One PutObject with Content-MD5, checked against the ETag S3 returns. */
export async function putObject(context: S3Context, uri: string, body: Buffer): Promise<StorageStat> {
  const { bucket, key } = parseS3Uri(uri)
  const md5 = createHash("md5").update(body).digest()
  const response = await send(context, uri, "write", () =>
    context.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentMD5: md5.toString("base64") })),
  )
  const etag = unquote(response.ETag)
  if (etag !== undefined && !etagIsNotMd5(response) && etag !== md5.toString("hex")) throw corrupt(uri, "ETag", md5.toString("hex"), etag)
  return { size: body.length, etag }
}

/** Uploads a stream: one PUT when it ends below the threshold, else a multipart upload. */
export async function uploadStream(
  context: S3Context,
  uri: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onBytes?: (bytes: number) => void,
): Promise<StorageStat> {
  const parts = chunked(source, context.partSize)[Symbol.asyncIterator]()
  const head: Buffer[] = []
  let headBytes = 0
  while (headBytes < context.threshold) {
    const next = await parts.next()
    if (next.done === true) {
      const body = Buffer.concat(head)
      const written = await putObject(context, uri, body)
      onBytes?.(body.length)
      return written
    }
    head.push(next.value)
    headBytes += next.value.length
  }
  return uploadParts(context, uri, head, parts, onBytes)
}

/** Uploads a local file: one PUT below the threshold, else parts read and sent in parallel. */
export async function uploadFile(context: S3Context, uri: string, path: FsPath, onBytes?: (bytes: number) => void): Promise<StorageStat> {
  const handle = await open(path, "r").catch((error: unknown) => {
    throw localError(error, path.toString(), "upload")
  })
  try {
    const { size } = await handle.stat()
    if (size < context.threshold) {
      const body = await readExactly(handle, 0, size, path)
      const written = await putObject(context, uri, body)
      onBytes?.(size)
      return written
    }
    const partSize = Math.max(context.partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB)
    async function* parts(): AsyncGenerator<Buffer> {
      for (let offset = 0; offset < size; offset += partSize) yield readExactly(handle, offset, Math.min(partSize, size - offset), path)
    }
    const written = await uploadParts(context, uri, [], parts(), onBytes)
    if (written.size !== size) throw corrupt(uri, "size", size, written.size)
    return written
  } finally {
    await handle.close()
  }
}

async function readExactly(handle: import("node:fs/promises").FileHandle, offset: number, length: number, path: FsPath): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let read = 0
  while (read < length) {
    const { bytesRead } = await handle.read(buffer, read, length - read, offset + read)
    if (bytesRead === 0) throw corrupt(path.toString(), "size (the file shrank while it was read)", offset + length, offset + read)
    read += bytesRead
  }
  return buffer
}

/** A multipart upload of `head` then `rest`, `queueSize` parts at a time; aborted on failure. */
async function uploadParts(
  context: S3Context,
  uri: string,
  head: Buffer[],
  rest: AsyncIterator<Buffer>,
  onBytes?: (bytes: number) => void,
): Promise<StorageStat> {
  const { bucket, key } = parseS3Uri(uri)
  const created = await send(context, uri, "write", () =>
    context.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })),
  )
  const UploadId = created.UploadId
  const digests: Buffer[] = []
  const parts: { ETag: string | undefined; PartNumber: number }[] = []
  const inFlight = new Set<Promise<void>>()
  let size = 0
  try {
    for (let partNumber = 1; ; partNumber++) {
      const body = head.shift() ?? (await rest.next()).value
      if (body === undefined) break
      if (partNumber > MAX_PARTS)
        throw new ReductioError("INVALID_ARGUMENT", `${uri}: a stream over ${MAX_PARTS} parts; raise the S3 part size`, {
          details: { uri },
        })
      size += body.length
      const md5 = createHash("md5").update(body).digest()
      digests[partNumber - 1] = md5
      const sending = send(context, uri, "write", () =>
        context.client.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: partNumber,
            Body: body,
            ContentMD5: md5.toString("base64"),
          }),
        ),
      ).then((response) => {
        const etag = unquote(response.ETag)
        if (etag !== undefined && !etagIsNotMd5(response) && etag !== md5.toString("hex"))
          throw corrupt(uri, `ETag of part ${partNumber}`, md5.toString("hex"), etag)
        parts[partNumber - 1] = { ETag: response.ETag, PartNumber: partNumber }
        onBytes?.(body.length)
      })
      inFlight.add(sending)
      sending.then(
        () => inFlight.delete(sending),
        () => inFlight.delete(sending),
      )
      if (inFlight.size >= context.queueSize) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    const completed = await send(context, uri, "write", () =>
      context.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } })),
    )
    const etag = unquote(completed.ETag)
    const expected = multipartEtag(digests)
    if (etag !== undefined && !etagIsNotMd5(completed) && etag !== expected) throw corrupt(uri, "ETag", expected, etag)
    return { size, etag }
  } catch (error) {
    await Promise.allSettled(inFlight)
    await context.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined)
    throw error
  }
}

/** Re-chunks a byte stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* chunked(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let length = 0
  for await (const chunk of source) {
    let piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    while (length + piece.length >= size) {
      const take = size - length
      pending.push(piece.subarray(0, take))
      yield Buffer.concat(pending, size)
      piece = piece.subarray(take)
      pending = []
      length = 0
    }
    if (piece.length > 0) {
      // Copied: a source may reuse its buffers once the next chunk is asked for.
      pending.push(Buffer.from(piece))
      length += piece.length
    }
  }
  if (length > 0) yield Buffer.concat(pending, length)
}

/**
 * Downloads an object to `target` through a temporary sibling, hashing it on the way, and checks
 * size and ETag before renaming it into place. Resolves to the local file's stat, with the ETag.
 */
export async function downloadFile(
  context: S3Context,
  uri: string,
  target: FsPath,
  onBytes?: (bytes: number) => void,
): Promise<StorageStat> {
  const { bucket, key } = parseS3Uri(uri)
  const tmp = withSuffix(target, `.reductio-${randomBytes(6).toString("hex")}.tmp`)
  const release = await context.streams.take()
  try {
    const response = await send(context, uri, "read", () => context.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })))
    const etag = unquote(response.ETag)
    const size = response.ContentLength ?? 0
    const parts = etag === undefined ? undefined : partsOf(etag)
    const candidates = parts === undefined ? [] : partSizeCandidates(size, parts, [context.partSize])
    const builder = new EtagBuilder(candidates)
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        builder.update(chunk)
        onBytes?.(chunk.length)
        callback(null, chunk)
      },
    })
    await mkdir(parentOf(target), { recursive: true })
    await pipeline(response.Body as Readable, hasher, createWriteStream(tmp, { highWaterMark: MiB }))
    if (builder.length !== size) throw corrupt(uri, "size", size, builder.length)
    const checked = etag !== undefined && !etagIsNotMd5(response)
    if (checked) await checkDownload(context, uri, tmp, etag, builder.digest())
    await rename(tmp, target)
    const info = await stat(target)
    return { size: info.size, mtimeMs: info.mtimeMs, ...(checked ? { etag } : {}) }
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined)
    if (isSdkError(error)) throw s3Error(error, uri, "download")
    throw localError(error, target.toString(), "download to")
  } finally {
    release()
  }
}

/** Compares a downloaded file with the object's ETag; for a multipart ETag no guessed part size matched, asks S3 for it. */
async function checkDownload(
  context: S3Context,
  uri: string,
  tmp: FsPath,
  etag: string,
  local: ReturnType<EtagBuilder["digest"]>,
): Promise<void> {
  if (etagMatches(etag, local)) return
  const parts = partsOf(etag)
  if (parts === undefined) throw corrupt(uri, "MD5", etag, local.md5)
  const partSize = await exactPartSize(context, uri)
  if (partSize === undefined || local.multipart.has(partSize)) throw corrupt(uri, "ETag", etag, [...local.multipart.values()].join(" or "))
  const again = await localEtags(tmp, [partSize])
  if (!etagMatches(etag, again)) throw corrupt(uri, "ETag", etag, again.multipart.get(partSize) ?? "?")
}

/** The size of part 1 of a multipart object (HeadObject with PartNumber: 1), or undefined. */
export async function exactPartSize(context: S3Context, uri: string): Promise<number | undefined> {
  const { bucket, key } = parseS3Uri(uri)
  const head = await send(context, uri, "stat", () =>
    context.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 })),
  )
  return head.ContentLength
}

/**
 * Copies an object server-side. A single-part object takes one CopyObject (below the copy
 * threshold); a multipart one is copied part by part with its own part size, so the copy has the
 * same ETag; either way the new ETag is checked against the source's.
 */
export async function copyObject(
  context: S3Context,
  fromUri: string,
  toUri: string,
  source: StorageStat,
  onBytes?: (bytes: number) => void,
): Promise<StorageStat> {
  const from = parseS3Uri(fromUri)
  const to = parseS3Uri(toUri)
  const copySource = `${from.bucket}/${encodeURIComponent(from.key).replaceAll("%2F", "/")}`
  const parts = source.etag === undefined ? undefined : partsOf(source.etag)
  let etag: string | undefined
  // A single-part object above the copy threshold is copied in parts: its copy has another ETag.
  let keepsEtag = true
  if (parts === undefined && source.size <= context.copyThreshold) {
    const response = await send(context, toUri, "copy to", () =>
      context.client.send(new CopyObjectCommand({ Bucket: to.bucket, Key: to.key, CopySource: copySource })),
    )
    etag = unquote(response.CopyObjectResult?.ETag)
    keepsEtag = !etagIsNotMd5(response)
  } else {
    keepsEtag = parts !== undefined
    const partSize =
      parts === undefined
        ? Math.max(context.partSize, Math.ceil(source.size / MAX_PARTS / MiB) * MiB)
        : ((await exactPartSize(context, fromUri)) ?? partSizeCandidates(source.size, parts, [context.partSize])[0] ?? context.partSize)
    etag = await send(context, toUri, "copy to", () => multipartCopy(context, copySource, source.size, partSize, to.bucket, to.key))
  }
  if (keepsEtag && source.etag !== undefined && etag !== undefined && etag !== source.etag) throw corrupt(toUri, "ETag", source.etag, etag)
  onBytes?.(source.size)
  return { size: source.size, etag }
}

/** Copies `size` bytes part by part (UploadPartCopy); resolves to the new ETag. */
async function multipartCopy(
  context: S3Context,
  source: string,
  size: number,
  partSize: number,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  const { client } = context
  const created = await context.requests.run(() => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })))
  const UploadId = created.UploadId
  try {
    const parts: { ETag: string | undefined; PartNumber: number }[] = []
    const offsets = Array.from({ length: Math.max(1, Math.ceil(size / partSize)) }, (_, i) => i * partSize)
    await mapLimit(offsets, context.queueSize, async (offset, i) => {
      const end = Math.min(offset + partSize, size) - 1
      const result = await context.requests.run(() =>
        client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            CopySource: source,
            CopySourceRange: `bytes=${offset}-${end}`,
          }),
        ),
      )
      parts[i] = { ETag: result.CopyPartResult?.ETag, PartNumber: i + 1 }
    })
    const done = await context.requests.run(() =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } })),
    )
    return unquote(done.ETag)
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined)
    throw error
  }
}
