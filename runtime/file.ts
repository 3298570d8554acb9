/**
 * @module file
 * `File` (with `Dir`, `StagingFile` and `StagingDir` in their own modules): values that stand for
 * data in storage (a local path or `s3://bucket/key`). A File's hash comes from its storage: local = path + size + mtime (or, with
 * `{ contentHash: true }`, the sha256 of its bytes), S3 = path + ETag. The codec's `prepare` hook
 * computes it before a File is encoded, so a task argument changes its args hash when the file
 * changes; `validate` re-checks it so a cached result whose files changed runs again. Within one
 * execution an S3 object's hash is learnt once (stat-scope.ts): a write's answer, a HEAD or a
 * Dir's listing serves every later check.
 *
 * @example
 * const count = task("count", async (input: File) => (await input.read()).split("\n").length)
 * const sorted = task("sort", async (input: File) => {
 *   const out = new File("sorted.txt")
 *   await out.write((await input.read()).split("\n").sort().join("\n"))
 *   return out
 * })
 */
import { basename, dirname } from "node:path"
import { PassThrough, type Readable, Writable } from "node:stream"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { currentHash, statHash } from "./file-hash.js"
import { FILE, normalize, STDOUT } from "./file-kinds.js"
import { StagingFile } from "./staging-file.js"
import { rememberHash, type StatScope, scopeNow } from "./stat-scope.js"
import type { ByteRange, Storage, StorageStat } from "./storage/storage.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"
import "./file-codecs.js"

export { Dir } from "./dir.js"
export { StagingDir } from "./staging-dir.js"
export { StagingFile } from "./staging-file.js"
export { isDir, isFile, isStagingDir, isStagingFile, STDOUT } from "./file-kinds.js"

/** Options of a {@link File}. */
export interface FileOptions {
  /**
   * Hash a local file by the sha256 of its bytes instead of path + size + mtime: a touched but
   * unchanged file keeps its hash. Costs a full read (about 1 GB/s). S3 objects always use the ETag.
   */
  readonly contentHash?: boolean
}

// Set by a static block: the codecs restore a decoded value's hash without a public setter.
let setHash: (file: File, hash: string | undefined, scope: StatScope | undefined) => void
let scopeOf: (file: File) => StatScope | undefined

/**
 * Sets a File's recorded hash and the scope it was learnt in (the codec, when it decodes one; a
 * write, when storage answers). Not part of the public API.
 */
export function setFileHash(file: File, hash: string | undefined, scope?: StatScope): void {
  setHash(file, hash, scope)
}

/** The scope in which a File's hash was learnt. Not part of the public API. */
export function fileHashScope(file: File): StatScope | undefined {
  return scopeOf(file)
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
  #scope: StatScope | undefined

  static {
    setHash = (file, hash, scope) => {
      file.#hash = hash
      file.#scope = hash === undefined ? undefined : scope
    }
    scopeOf = (file) => file.#scope
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

  /**
   * The directory holding the file: its parent path, or for S3 the key prefix up to the last `/`.
   *
   * @example
   * new File("s3://lab/run7/reads.fastq").dirname // "s3://lab/run7"
   */
  get dirname(): string {
    if (!this.isRemote) return dirname(this.path)
    const slash = this.path.lastIndexOf("/")
    return slash <= "s3://".length ? this.path : this.path.slice(0, slash)
  }

  /** True for `s3://` files. */
  get isRemote(): boolean {
    return isS3Uri(this.path)
  }

  /** Size, mtime and (S3) ETag, or undefined when the file does not exist. Always asks storage. */
  async stat(): Promise<StorageStat | undefined> {
    const info = await (await this.#storage()).stat(this.path)
    if (this.isRemote) this.#learn(info)
    return info
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
    this.#learn(await (await this.#storage()).writeBytes(this.path, data))
  }

  /** Creates or replaces the file from a stream (multipart on S3), atomically. */
  async writeStream(source: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    this.#hash = undefined
    this.#learn(await (await this.#storage()).writeStream(this.path, source))
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
      final: (callback) => {
        pass.end()
        done.then((written) => {
          this.#learn(written)
          callback()
        }, callback)
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
   * and S3), verified and retried as a Storage transfer. Returns the destination File, whose hash
   * (for S3) is already known from the copy.
   *
   * @example
   * const local = await new File("s3://lab/ref.fa").copyTo("ref.fa")
   */
  async copyTo(dest: File | string, options: FileOptions = {}): Promise<File> {
    const target = typeof dest === "string" ? new File(dest, options) : dest
    const [from, to] = await Promise.all([this.#storage(), target.#storage()])
    target.#hash = undefined
    let written: StorageStat
    if (from === to) written = await from.copy(this.path, target.path)
    else if (!this.isRemote) written = await to.upload(this.path, target.path)
    else if (!target.isRemote) written = await from.download(this.path, target.path)
    else written = await to.writeStream(target.path, await from.createReadStream(this.path))
    target.#learn(written)
    return target
  }

  /** Removes the file (a missing file is fine). */
  async rm(): Promise<void> {
    this.#hash = undefined
    await (await this.#storage()).delete(this.path)
  }

  /** Removes the file (a missing file is fine); the same as {@link rm}. */
  async delete(): Promise<void> {
    await this.rm()
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

  /** Recomputes the hash from storage now (what the codec's `prepare` does outside an execution). */
  async updateHash(): Promise<string> {
    const hash = await currentHash(this)
    this.#hash = hash
    this.#scope = scopeNow()
    if (this.isRemote) rememberHash(this.path, hash)
    return hash
  }

  toString(): string {
    return this.path
  }

  /** Takes what storage answered about an S3 object as its hash (a local file is stat'ed when prepared). */
  #learn(info: StorageStat | undefined): void {
    if (!this.isRemote || (info !== undefined && info.etag === undefined)) return
    const hash = statHash(this, info)
    this.#hash = hash
    this.#scope = scopeNow()
    rememberHash(this.path, hash)
  }

  #storage(): Promise<Storage> {
    if (this.path === STDOUT) {
      throw new ReductioError("INVALID_ARGUMENT", 'File("-") stands for a script\'s standard output; it has no storage')
    }
    return storageFor(this.path)
  }
}
