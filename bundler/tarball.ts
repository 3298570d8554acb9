/**
 * @module tarball
 * Byte-for-byte reproducible tar.gz archives: entries sorted by path, zero mtimes, uid/gid 0, no
 * user or group names, fixed modes, and a gzip header with mtime 0, no file name and a fixed OS
 * byte. The same files always give the same bytes, so the archive can be named by its sha256.
 */
import { constants, gzipSync } from "node:zlib"
import { pack } from "tar-stream"

/** One file of an archive. */
export interface ArchiveFile {
  /** Relative POSIX path inside the archive (no leading `/`, no `..`). */
  readonly path: string
  readonly bytes: Uint8Array
  /** Defaults to 0o644. */
  readonly mode?: number
}

/** The gzip header's OS byte (RFC 1952): 3 = Unix. zlib fills in the build platform's value. */
const GZIP_OS_UNIX = 3
const GZIP_OS_OFFSET = 9
const EPOCH = new Date(0)

/**
 * Packs files into a reproducible tar.gz.
 *
 * @example
 * const bytes = await packTarGz([{ path: "workflow.mjs", bytes: code }])
 */
export async function packTarGz(files: readonly ArchiveFile[]): Promise<Uint8Array> {
  return (await packArchive(files)).tarGz
}

/**
 * Packs files into a reproducible tar and its tar.gz. A bundle is named by the sha256 of the tar:
 * the gzip bytes of one tar differ between zlib builds (Node's, Bun's, Deno's).
 *
 * @example
 * const { tar, tarGz } = await packArchive([{ path: "workflow.mjs", bytes: code }])
 */
export async function packArchive(files: readonly ArchiveFile[]): Promise<{ tar: Uint8Array; tarGz: Uint8Array }> {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const archive = pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const chunk of archive) chunks.push(chunk as Buffer)
  })()
  for (const file of sorted) {
    await new Promise<void>((resolve, reject) => {
      archive.entry(
        {
          name: file.path,
          size: file.bytes.length,
          mode: file.mode ?? 0o644,
          mtime: EPOCH,
          uid: 0,
          gid: 0,
          uname: "",
          gname: "",
          type: "file",
        },
        Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.length),
        (error) => (error ? reject(error) : resolve()),
      )
    })
  }
  archive.finalize()
  await done
  const tar = Buffer.concat(chunks)
  return { tar, tarGz: gzipFixed(tar) }
}

/**
 * Gzips with a fixed header. Node's gzip already writes mtime 0 and no file name; only the OS byte
 * depends on the platform zlib was built for, so it is set to Unix. The header has no CRC (FHCRC is
 * unset), so patching the byte keeps the stream valid.
 */
function gzipFixed(tar: Buffer): Uint8Array {
  const gz = gzipSync(tar, { level: constants.Z_BEST_COMPRESSION, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY })
  gz[GZIP_OS_OFFSET] = GZIP_OS_UNIX
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.length)
}
