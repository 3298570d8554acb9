/**
 * @module content-hash
 * The sha256 of a local file's bytes, fast: reads run on libuv's thread pool into one buffer while
 * the main thread hashes the other (double buffering), so hashing and I/O overlap. Digests are
 * remembered per path with the size and mtime they were computed for, so re-validating an
 * untouched file costs one stat.
 */
import { createHash } from "node:crypto"
import { open } from "node:fs/promises"
import { localError, readablePath } from "./local-storage.js"
import type { StorageStat } from "./storage.js"

const CHUNK = 8 * 1024 * 1024
const MEMO_LIMIT = 10_000
const memo = new Map<string, { size: number; mtimeMs: number | undefined; digest: string }>()

/**
 * The hex sha256 of the file at `path`, whose current stat is `info` (a digest computed for the same
 * size and mtime is reused).
 *
 * @example
 * const digest = await contentDigest("/data/reads.bam", await new LocalStorage().stat("/data/reads.bam"))
 */
export async function contentDigest(path: string, info: StorageStat): Promise<string> {
  const known = memo.get(path)
  if (known !== undefined && known.size === info.size && known.mtimeMs === info.mtimeMs) return known.digest
  const digest = await sha256OfFile(path)
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string)
  memo.set(path, { size: info.size, mtimeMs: info.mtimeMs, digest })
  return digest
}

/** The hex sha256 of a local file's bytes, streamed with overlapped reads. */
export async function sha256OfFile(path: string): Promise<string> {
  const handle = await open(await readablePath(path), "r").catch((error: unknown) => {
    throw localError(error, path, "hash")
  })
  try {
    const hash = createHash("sha256")
    const buffers: Buffer[] = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)]
    let turn = 0
    let pending = handle.read(buffers[0] as Buffer, 0, CHUNK, null)
    for (;;) {
      const { bytesRead, buffer } = await pending
      if (bytesRead === 0) break
      turn ^= 1
      pending = handle.read(buffers[turn] as Buffer, 0, CHUNK, null)
      hash.update(buffer.subarray(0, bytesRead))
    }
    return hash.digest("hex")
  } catch (error) {
    throw localError(error, path, "hash")
  } finally {
    await handle.close()
  }
}
