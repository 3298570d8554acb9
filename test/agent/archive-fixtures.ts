// Hostile (and ordinary) tar.gz archives for the extraction and agent specs, built in the tests.
import { gzipSync } from "node:zlib"
import { type Header, pack } from "tar-stream"

/** One entry of an archive to build. */
export interface Item {
  readonly name: string
  readonly type?: Header["type"]
  readonly linkname?: string
  readonly mode?: number
  readonly devmajor?: number
  readonly devminor?: number
  readonly body?: string | Uint8Array
}

/** The raw tar of `items`, in order, with tar-stream (which writes pax headers for long names). */
export async function tarOf(items: readonly Item[]): Promise<Buffer> {
  const archive = pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const chunk of archive) chunks.push(chunk as Buffer)
  })()
  for (const { body, ...header } of items) {
    await new Promise<void>((resolve, reject) =>
      archive.entry({ ...header, mode: header.mode ?? 0o644 }, body ?? "", (error) => (error ? reject(error) : resolve())),
    )
  }
  archive.finalize()
  await done
  return Buffer.concat(chunks)
}

/** `items` as a tar.gz. */
export async function tarGz(items: readonly Item[]): Promise<Uint8Array> {
  return gzipSync(await tarOf(items))
}

/** A tar.gz of `count` empty files. */
export async function manyFiles(count: number): Promise<Uint8Array> {
  return tarGz(Array.from({ length: count }, (_, i) => ({ name: `f${i}` })))
}

const CHUNK = 64 * 1024 * 1024
let zeroMember: Buffer | undefined

/**
 * A gzip bomb: a tar.gz of `files` files of `bytesEach` zero bytes (a multiple of 64 MiB), made
 * of concatenated gzip members (valid gzip) so that building it never holds more than 64 MiB. One
 * GiB of zeros takes about 1 MiB.
 */
export function zeroBomb(files: number, bytesEach: number): Uint8Array {
  if (bytesEach % CHUNK !== 0) throw new Error("bytesEach must be a multiple of 64 MiB")
  zeroMember ??= gzipSync(Buffer.alloc(CHUNK), { level: 9 })
  const members: Buffer[] = []
  for (let i = 0; i < files; i++) {
    members.push(gzipSync(ustarHeader(`zero-${i}.bin`, bytesEach)))
    for (let n = 0; n < bytesEach / CHUNK; n++) members.push(zeroMember)
  }
  members.push(gzipSync(Buffer.alloc(1024)))
  return Buffer.concat(members)
}

/** A ustar header for a regular file (what tar-stream would write, without needing the data). */
function ustarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512)
  const octal = (value: number, offset: number, length: number) =>
    header.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "ascii")
  header.write(name, 0, 100, "utf8")
  octal(0o644, 100, 8)
  octal(0, 108, 8)
  octal(0, 116, 8)
  octal(size, 124, 12)
  octal(0, 136, 12)
  header.write("0", 156, 1, "ascii")
  header.write("ustar\0", 257, 6, "ascii")
  header.write("00", 263, 2, "ascii")
  header.fill(" ", 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii")
  return header
}
