/**
 * @module etag
 * S3's ETags computed locally, so a local file can be compared with an object without reading the
 * object: a single-part upload's ETag is the MD5 of its bytes; a multipart upload's is the MD5 of
 * the concatenated MD5s of its parts followed by `-<parts>`, so it depends on the part size the
 * uploader used. That size is not recorded on the object; {@link partSizeCandidates} lists the
 * sizes that give the right number of parts (the uploader's usual sizes first).
 */
import { createHash, type Hash } from "node:crypto"
import { open } from "node:fs/promises"

const MiB = 1024 * 1024

/** Part sizes of common uploaders (the AWS CLI and SDKs default to 8 MiB; S3's minimum is 5 MiB). */
const USUAL_PART_SIZES = [8, 5, 16, 15, 32, 50, 64, 100, 128, 256, 512, 1024].map((n) => n * MiB)

/** What a local file's bytes hash to, as S3 would tag them. */
export interface LocalEtags {
  /** The hex MD5 of the whole file: a single-part upload's ETag. */
  readonly md5: string
  /** Multipart ETags (`<hex>-<parts>`) by the part size they assume. */
  readonly multipart: ReadonlyMap<number, string>
}

/**
 * The number of parts an ETag says its object was uploaded in; undefined for a single-part ETag.
 *
 * @example
 * partsOf("9b2cf535f27731c974343645a3985328-3") // 3
 */
export function partsOf(etag: string): number | undefined {
  const match = /-(\d+)$/.exec(etag)
  return match === null ? undefined : Number(match[1])
}

/**
 * Part sizes that split `size` bytes into `parts` parts: `preferred` first, then the usual sizes,
 * then the smallest whole MiB that fits. One part means the whole object, whatever the size.
 */
export function partSizeCandidates(size: number, parts: number, preferred: readonly number[] = []): number[] {
  if (parts <= 1) return [Math.max(size, 1)]
  const fits = (partSize: number) => partSize > 0 && Math.ceil(size / partSize) === parts
  const derived = Math.ceil(size / parts / MiB) * MiB
  const all = [...preferred, ...USUAL_PART_SIZES, derived].filter(fits)
  return [...new Set(all)]
}

/** The multipart ETag of the given part MD5s (raw 16-byte digests). */
export function multipartEtag(partDigests: readonly Uint8Array[]): string {
  const hash = createHash("md5")
  for (const digest of partDigests) hash.update(digest)
  return `${hash.digest("hex")}-${partDigests.length}`
}

/** True when `etag` is one of the ETags `local` stands for. */
export function etagMatches(etag: string, local: LocalEtags): boolean {
  const parts = partsOf(etag)
  if (parts === undefined) return etag === local.md5
  for (const candidate of local.multipart.values()) if (candidate === etag) return true
  return false
}

/**
 * Computes, in one pass over streamed bytes, the MD5 and the multipart ETags for several part
 * sizes at once: the verifier of downloads and the hasher of local files.
 *
 * @example
 * const builder = new EtagBuilder([8 * 1024 * 1024])
 * for await (const chunk of stream) builder.update(chunk)
 * const { md5, multipart } = builder.digest()
 */
export class EtagBuilder {
  readonly #whole = createHash("md5")
  readonly #parts: { size: number; offset: number; current: Hash; digests: Buffer[] }[]
  #length = 0

  constructor(partSizes: readonly number[]) {
    this.#parts = [...new Set(partSizes)]
      .filter((size) => size > 0)
      .map((size) => ({ size, offset: 0, current: createHash("md5"), digests: [] }))
  }

  /** Bytes seen so far. */
  get length(): number {
    return this.#length
  }

  update(chunk: Uint8Array): void {
    this.#whole.update(chunk)
    this.#length += chunk.length
    for (const part of this.#parts) {
      let at = 0
      while (at < chunk.length) {
        const take = Math.min(part.size - part.offset, chunk.length - at)
        part.current.update(chunk.subarray(at, at + take))
        part.offset += take
        at += take
        if (part.offset === part.size) {
          part.digests.push(part.current.digest())
          part.current = createHash("md5")
          part.offset = 0
        }
      }
    }
  }

  digest(): LocalEtags {
    const multipart = new Map<number, string>()
    for (const part of this.#parts) {
      const digests = part.offset > 0 || part.digests.length === 0 ? [...part.digests, part.current.digest()] : part.digests
      multipart.set(part.size, multipartEtag(digests))
    }
    return { md5: this.#whole.digest("hex"), multipart }
  }
}

/** Read size for hashing local files: large reads keep MD5 near its own speed. */
const CHUNK = 8 * MiB

/**
 * The ETags of a local file for the given part sizes, reading it once (reads overlap hashing).
 *
 * @example
 * const { md5 } = await localEtags("/data/reads.fastq", [])
 */
export async function localEtags(
  path: string | Buffer,
  partSizes: readonly number[],
  onBytes?: (bytes: number) => void,
): Promise<LocalEtags> {
  const handle = await open(path, "r")
  try {
    const builder = new EtagBuilder(partSizes)
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
    let turn = 0
    let pending = handle.read(buffers[0] as Buffer, 0, CHUNK, null)
    for (;;) {
      const { bytesRead, buffer } = await pending
      if (bytesRead === 0) break
      turn ^= 1
      pending = handle.read(buffers[turn] as Buffer, 0, CHUNK, null)
      builder.update(buffer.subarray(0, bytesRead))
      onBytes?.(bytesRead)
    }
    return builder.digest()
  } finally {
    await handle.close()
  }
}
