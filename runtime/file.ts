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
import { statSync } from "node:fs"
import { stat as fsStat } from "node:fs/promises"
import { basename, join, resolve } from "node:path"
import { PassThrough, type Readable, Writable } from "node:stream"
import { encode as cborEncode } from "cborg"
import { registerCodec, TAGS } from "./codec.js"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { sha256 } from "./hashing.js"
import { contentDigest } from "./storage/content-hash.js"
import type { ByteRange, Storage, StorageStat } from "./storage/storage.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"

/** Options of a {@link File}. */
export interface FileOptions {
  /**
   * Hash a local file by the sha256 of its bytes instead of path + size + mtime: a touched but
   * unchanged file keeps its hash. Costs a full read (about 1 GB/s). S3 objects always use the ETag.
   */
  readonly contentHash?: boolean
}

/** The path that stands for a script's standard output in `script({ outputs })`. */
export const STDOUT = "-"

/** Normalizes a location: `s3://` kept, `-` kept, local paths made absolute against the cwd. */
function normalize(path: string): string {
  if (typeof path !== "string" || path === "")
    throw new ReductioError("INVALID_ARGUMENT", `a File needs a path, got ${JSON.stringify(path)}`)
  if (path === STDOUT || isS3Uri(path)) return path
  if (path.startsWith("file:")) return new URL(path).pathname
  return resolve(path)
}

// Set by static blocks: the codecs restore a decoded value's hash without a public setter.
let setHash: (file: File, hash: string | undefined) => void
let setDirHash: (dir: Dir, hash: string | undefined) => void

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

/**
 * A directory (local) or a key prefix (S3). Its hash covers the relative path and the hash basis
 * of every file under it.
 *
 * @example
 * const outputs = new Dir("s3://lab/run7/out")
 * for (const file of await outputs.files()) console.log(file.path)
 */
export class Dir {
  declare readonly [opaque]?: true
  /** The absolute local path or `s3://bucket/prefix`, without a trailing slash. */
  readonly path: string
  #hash: string | undefined

  constructor(path: string) {
    const normalized = normalize(path)
    this.path = normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized
    Object.defineProperty(this, DIR, { value: true })
  }

  /** The hash recorded when the directory was last prepared (or decoded). */
  get hash(): string | undefined {
    return this.#hash
  }

  /** The File `name` (a relative path) inside this directory. */
  file(name: string): File {
    return new File(this.isRemote ? `${this.path}/${name}` : join(this.path, name))
  }

  /** True for `s3://` prefixes. */
  get isRemote(): boolean {
    return isS3Uri(this.path)
  }

  /** Every file under the directory, recursively, in path order. */
  async files(): Promise<File[]> {
    const storage = await storageFor(this.path)
    const files: File[] = []
    for await (const entry of storage.list(`${this.path}/`)) files.push(new File(entry.uri))
    return files
  }

  /** True when the directory exists (S3: when some object has its prefix). */
  async exists(): Promise<boolean> {
    if (!this.isRemote) {
      const info = await fsStat(this.path).catch(() => undefined)
      return info?.isDirectory() === true
    }
    const storage = await storageFor(this.path)
    for await (const _ of storage.list(`${this.path}/`, { pageSize: 1 })) return true
    return false
  }

  /** Recomputes the hash from a listing now (what the codec's `prepare` does). */
  async updateHash(): Promise<string> {
    this.#hash = await dirHash(this)
    return this.#hash
  }

  static {
    setDirHash = (dir, hash) => {
      dir.#hash = hash
    }
  }

  toString(): string {
    return this.path
  }
}

/**
 * A remote File paired with a local path inside a job (see {@link File.stage}). The local path is
 * relative to the job's working directory unless absolute.
 */
export class StagingFile {
  declare readonly [opaque]?: true
  /** The path inside the job (relative paths resolve against the job's directory). */
  readonly local: string
  /** The file in storage. */
  readonly remote: File

  constructor(local: string, remote: File) {
    if (typeof local !== "string" || local === "")
      throw new ReductioError("INVALID_ARGUMENT", `stage() needs a local path for ${remote.path}`)
    this.local = local
    this.remote = remote
    Object.defineProperty(this, STAGING, { value: true })
  }

  /** The local File, resolved against `dir` (default: the working directory). */
  localFile(dir?: string): File {
    return new File(dir === undefined ? this.local : resolve(dir, this.local))
  }

  /** Copies remote → local; FILE_NOT_FOUND naming the remote file when it is missing. */
  async stageIn(dir?: string): Promise<File> {
    return this.remote.copyTo(this.localFile(dir))
  }

  /** Copies local → remote; returns the remote File. */
  async stageOut(dir?: string): Promise<File> {
    return this.localFile(dir).copyTo(new File(this.remote.path, { contentHash: this.remote.contentHash }))
  }
}

const FILE = Symbol.for("reductio.file")
const DIR = Symbol.for("reductio.dir")
const STAGING = Symbol.for("reductio.stagingFile")

/** True for a File (from any copy of the kernel). */
export function isFile(value: unknown): value is File {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[FILE] === true
}
/** True for a Dir (from any copy of the kernel). */
export function isDir(value: unknown): value is Dir {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DIR] === true
}
/** True for a StagingFile (from any copy of the kernel). */
export function isStagingFile(value: unknown): value is StagingFile {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[STAGING] === true
}

// ---------------------------------------------------------------------------------------------
// Hashes

function hashOf(kind: string, ...parts: unknown[]): string {
  return sha256(cborEncode([kind, ...parts]))
}

function statHash(file: File, info: StorageStat | undefined): string {
  if (info === undefined) return hashOf("file", file.path, null)
  if (file.isRemote) return hashOf("file", file.path, info.etag ?? null, info.size)
  return hashOf("file", file.path, info.size, info.mtimeMs ?? null)
}

async function currentHash(file: File): Promise<string> {
  if (file.path === STDOUT) return hashOf("file", STDOUT)
  const storage = await storageFor(file.path)
  const info = await storage.stat(file.path)
  if (info === undefined || file.isRemote || !file.contentHash) return statHash(file, info)
  return contentDigest(file.path, info)
}

/** The hash of an unprepared local File, synchronously (a stat); undefined when that cannot be. */
function hashNow(file: File): string | undefined {
  if (file.path === STDOUT) return hashOf("file", STDOUT)
  if (file.isRemote || file.contentHash) return undefined
  try {
    const info = statSync(file.path)
    return statHash(file, { size: info.size, mtimeMs: info.mtimeMs })
  } catch {
    return statHash(file, undefined)
  }
}

async function dirHash(dir: Dir): Promise<string> {
  const storage = await storageFor(dir.path)
  const prefix = `${dir.path}/`
  const entries: unknown[] = []
  for await (const entry of storage.list(prefix)) {
    const relative = entry.uri.slice(prefix.length)
    entries.push(dir.isRemote ? [relative, entry.etag ?? null, entry.size] : [relative, entry.size, entry.mtimeMs ?? null])
  }
  return hashOf("dir", dir.path, entries)
}

/** Checks in flight by file and recorded hash: a file in many cached values is checked once at a time. */
const validating = new Map<string, Promise<boolean>>()

/** Runs `check`, or joins the same check already in flight; nothing is kept once it settles. */
function validateOnce(key: string, check: () => Promise<boolean>): Promise<boolean> {
  let pending = validating.get(key)
  if (pending === undefined) {
    pending = check().finally(() => validating.delete(key))
    validating.set(key, pending)
  }
  return pending
}

async function stillValid(recorded: string | undefined, current: () => Promise<string>): Promise<boolean> {
  if (recorded === undefined) return false
  try {
    return (await current()) === recorded
  } catch {
    // Cannot confirm the file (permission, network): run the call again rather than trust it.
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Codecs

interface FileData {
  readonly path: string
  readonly hash: string
  readonly contentHash?: true
}

function encodeFile(file: File): FileData {
  let hash = file.hash
  if (hash === undefined) {
    hash = hashNow(file)
    if (hash === undefined) {
      throw new ReductioError(
        "UNENCODABLE_VALUE",
        `File ${file.path} has no hash yet: the scheduler prepares Files before encoding them; elsewhere await file.updateHash() first`,
        { details: { uri: file.path } },
      )
    }
    setHash(file, hash)
  }
  return file.contentHash ? { path: file.path, hash, contentHash: true } : { path: file.path, hash }
}

/** Stored data with a text path and hash (else an error: the decoder makes it UNDECODABLE_VALUE). */
function storedPathAndHash<T extends { path: string; hash: string }>(data: unknown, what: string): T {
  const { path, hash } = (typeof data === "object" && data !== null ? data : {}) as Partial<T>
  if (typeof path !== "string" || typeof hash !== "string") throw new Error(`a stored ${what} needs a text path and hash`)
  return data as T
}

function decodeFile(data: unknown): File {
  const { path, hash, contentHash } = storedPathAndHash<FileData>(data, "File")
  const file = new File(path, contentHash === true ? { contentHash } : {})
  setHash(file, hash)
  return file
}

registerCodec<File>({
  tag: TAGS.file,
  name: "File",
  is: isFile,
  encode: encodeFile,
  decode: decodeFile,
  prepare: async (file) => {
    await file.updateHash()
  },
  validate: (file) =>
    validateOnce(`${file.path}\u0000${file.hash}\u0000${file.contentHash}`, () => stillValid(file.hash, () => currentHash(file))),
  lineage: (file) => (file.hash === undefined ? undefined : { path: file.path, hash: file.hash }),
})

registerCodec<Dir>({
  tag: TAGS.dir,
  name: "Dir",
  is: isDir,
  encode: (dir) => {
    if (dir.hash === undefined) {
      throw new ReductioError("UNENCODABLE_VALUE", `Dir ${dir.path} has no hash yet: await dir.updateHash() first`, {
        details: { uri: dir.path },
      })
    }
    return { path: dir.path, hash: dir.hash }
  },
  decode: (data) => {
    const { path, hash } = storedPathAndHash(data, "Dir")
    const dir = new Dir(path)
    setDirHash(dir, hash)
    return dir
  },
  prepare: async (dir) => {
    await dir.updateHash()
  },
  validate: (dir) => stillValid(dir.hash, () => dirHash(dir)),
  lineage: (dir) => (dir.hash === undefined ? undefined : { path: dir.path, hash: dir.hash }),
})

registerCodec<StagingFile>({
  tag: TAGS.stagingFile,
  name: "StagingFile",
  is: isStagingFile,
  encode: (staging) => ({ local: staging.local, remote: staging.remote }),
  decode: (data) => {
    const { local, remote } = (typeof data === "object" && data !== null ? data : {}) as Partial<StagingFile>
    if (typeof local !== "string" || !isFile(remote)) throw new Error("a stored StagingFile needs a local path and a File")
    return new StagingFile(local, remote)
  },
  prepare: async (staging) => {
    await staging.remote.updateHash()
  },
  validate: (staging) => stillValid(staging.remote.hash, () => currentHash(staging.remote)),
  lineage: (staging) => (staging.remote.hash === undefined ? undefined : { path: staging.remote.path, hash: staging.remote.hash }),
})
