/**
 * @module file
 * `File`, `Dir` and `StagingFile`: values that stand for data in storage (a local path or
 * `s3://bucket/key`). A File's hash comes from its storage: local = path + size + mtime (or, with
 * `{ contentHash: true }`, the sha256 of its bytes), S3 = path + ETag. The codec's `prepare` hook
 * computes it before a File is encoded, so a task argument changes its args hash when the file
 * changes; `validate` re-checks it so a cached result whose files changed runs again.
 *
 * @example
 * const count = task("count", async (input: File) => (await input.read()).split("\n").length)
 * const sorted = task("sort", async (input: File) => {
 *   const out = new File("sorted.txt")
 *   await out.write((await input.read()).split("\n").sort().join("\n"))
 *   return out
 * })
 */
import { basename } from "node:path"
import { PassThrough, type Readable, Writable } from "node:stream"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { currentHash } from "./file-hash.js"
import { FILE, normalize, STDOUT } from "./file-kinds.js"
import { StagingFile } from "./staging-file.js"
import type { ByteRange, Storage, StorageStat } from "./storage/storage.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"
import "./file-codecs.js"

export { Dir } from "./dir.js"
export { StagingFile } from "./staging-file.js"
export { isDir, isFile, isStagingFile, STDOUT } from "./file-kinds.js"

/** Options of a {@link File}. */
export interface FileOptions {
  /**
   * Hash a local file by the sha256 of its bytes instead of path + size + mtime: a touched but
   * unchanged file keeps its hash. Costs a full read (about 1 GB/s). S3 objects always use the ETag.
   */
  readonly contentHash?: boolean
}

// Set by a static block: the codec restores a decoded value's hash without a public setter.
let setHash: (file: File, hash: string | undefined) => void

/** Sets a File's recorded hash (the codec, when it decodes one). Not part of the public API. */
export function setFileHash(file: File, hash: string | undefined): void {
  setHash(file, hash)
}

/**
 * A file in local storage or S3. Relative local paths resolve against the working directory at
 * construction; the stored path is absolute.
 *
 * @example
 * const reads = new File("s3://lab/run7/reads.fastq.gz")
 * const local = new File("data/sample.csv", { contentHash: true })
 */
export class File {
  declare readonly [opaque]?: true
  /** The absolute local path or `s3://bucket/key`. */
  readonly path: string
  /** Whether the hash is the sha256 of the bytes (local files). */
  readonly contentHash: boolean
  #hash: string | undefined

  static {
    setHash = (file, hash) => {
      file.#hash = hash
    }
  }

  constructor(path: string, options: FileOptions = {}) {
    this.path = normalize(path)
    this.contentHash = options.contentHash === true
    Object.defineProperty(this, FILE, { value: true })
  }

  /** The hash recorded when the file was last prepared (or decoded); undefined before that. */
  get hash(): string | undefined {
    return this.#hash
  }

  /** The last path segment. */
  get basename(): string {
    return basename(this.path)
  }

  /** True for `s3://` files. */
  get isRemote(): boolean {
    return isS3Uri(this.path)
  }

  /** Size, mtime and (S3) ETag, or undefined when the file does not exist. */
  async stat(): Promise<StorageStat | undefined> {
    return (await this.#storage()).stat(this.path)
  }

  /** True when the file exists. */
  async exists(): Promise<boolean> {
    return (await this.stat()) !== undefined
  }

  /** Size in bytes; FILE_NOT_FOUND when missing. */
  async size(): Promise<number> {
    const info = await this.stat()
    if (info === undefined) throw new ReductioError("FILE_NOT_FOUND", `${this.path} does not exist`, { details: { uri: this.path } })
    return info.size
  }

  /** The contents as UTF-8 text. */
  async read(): Promise<string> {
    return Buffer.from(await this.readBytes()).toString("utf8")
  }

  /** The contents (or a byte range of them). Stream large files with {@link createReadStream}. */
  async readBytes(range?: ByteRange): Promise<Uint8Array> {
    return (await this.#storage()).readBytes(this.path, range)
  }

  /** Creates or replaces the file, atomically. */
  async write(data: string | Uint8Array): Promise<void> {
    this.#hash = undefined
    await (await this.#storage()).writeBytes(this.path, data)
  }

  /** Creates or replaces the file from a stream (multipart on S3), atomically. */
  async writeStream(source: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    this.#hash = undefined
    await (await this.#storage()).writeStream(this.path, source)
  }

  /** A stream of the file's bytes; FILE_NOT_FOUND (before any read) when missing. */
  async createReadStream(range?: ByteRange): Promise<Readable> {
    return (await this.#storage()).createReadStream(this.path, range)
  }

  /**
   * A writable stream into the file; its `finish` event fires once the file is durably written.
   *
   * @example
   * await pipeline(source, new File("s3://b/out.gz").createWriteStream())
   */
  createWriteStream(): Writable {
    this.#hash = undefined
    const pass = new PassThrough({ highWaterMark: 1024 * 1024 })
    const done = this.#storage().then((storage) => storage.writeStream(this.path, pass))
    const writable = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        if (pass.write(chunk)) callback()
        else pass.once("drain", () => callback())
      },
      final(callback) {
        pass.end()
        done.then(() => callback(), callback)
      },
      destroy(error, callback) {
        pass.destroy(error ?? undefined)
        callback(error)
      },
    })
    // A failed upload stops consuming `pass`: fail the writer instead of leaving it waiting.
    done.catch((error: unknown) => writable.destroy(error as Error))
    return writable
  }

  /**
   * Copies the file to `dest`, streamed (server-side within S3; upload or download across local
   * and S3). Returns the destination File.
   */
  async copyTo(dest: File | string, options: FileOptions = {}): Promise<File> {
    const target = typeof dest === "string" ? new File(dest, options) : dest
    const [from, to] = await Promise.all([this.#storage(), target.#storage()])
    if (from === to) await from.copy(this.path, target.path)
    else if (!this.isRemote) await to.upload(this.path, target.path)
    else if (!target.isRemote) await from.download(this.path, target.path)
    else await to.writeStream(target.path, await from.createReadStream(this.path))
    setHash(target, undefined)
    return target
  }

  /** Removes the file (a missing file is fine). */
  async delete(): Promise<void> {
    this.#hash = undefined
    await (await this.#storage()).delete(this.path)
  }

  /**
   * Pairs this (remote) file with a local path inside a job: `script()` copies it in before the
   * command runs (inputs) or out after (outputs). `localPath` defaults to the basename.
   *
   * @example
   * script("sort reads.txt > sorted.txt", {
   *   inputs: [new File("s3://b/reads.txt").stage("reads.txt")],
   *   outputs: { sorted: new File("s3://b/sorted.txt").stage("sorted.txt") },
   * })
   */
  stage(localPath: string = this.basename): StagingFile {
    return new StagingFile(localPath, this)
  }

  /** Recomputes the hash from storage now (what the codec's `prepare` does). */
  async updateHash(): Promise<string> {
    const hash = await currentHash(this)
    this.#hash = hash
    return hash
  }

  toString(): string {
    return this.path
  }

  #storage(): Promise<Storage> {
    if (this.path === STDOUT) {
      throw new ReductioError("INVALID_ARGUMENT", 'File("-") stands for a script\'s standard output; it has no storage')
    }
    return storageFor(this.path)
  }
}
