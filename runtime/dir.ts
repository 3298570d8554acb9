/**
 * @module dir
 * `Dir`: a local directory or an S3 key prefix, hashed by the files under it (one listing: S3's
 * ListObjectsV2 gives every object's size and ETag, so no HEAD per file). It lists, globs, copies,
 * syncs (copying only what differs), stages into a job and removes.
 */
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { File, setFileHash } from "./file.js"
import { dirExists, dirHash, remoteHash } from "./file-hash.js"
import { DIR, normalize } from "./file-kinds.js"
import { StagingDir } from "./staging-dir.js"
import { rememberHash, type StatScope, scopeNow } from "./stat-scope.js"
import { globMatcher } from "./storage/glob.js"
import { writablePath } from "./storage/local-storage.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"
import { type SyncOptions, type SyncResult, syncDirectories } from "./storage/sync.js"

// Set by a static block: the codec restores a decoded value's hash without a public setter.
let setHash: (dir: Dir, hash: string | undefined, scope: StatScope | undefined) => void
let scopeOf: (dir: Dir) => StatScope | undefined

/** Sets a Dir's recorded hash and the scope it was learnt in. Not part of the public API. */
export function setDirHash(dir: Dir, hash: string | undefined, scope?: StatScope): void {
  setHash(dir, hash, scope)
}

/** The scope in which a Dir's hash was learnt. Not part of the public API. */
export function dirHashScope(dir: Dir): StatScope | undefined {
  return scopeOf(dir)
}

/**
 * A directory (local) or a key prefix (S3). Its hash covers the relative path and the hash basis
 * of every file under it.
 *
 * @example
 * const outputs = new Dir("s3://lab/run7/out")
 * for (const file of await outputs.glob("**\/*.bam")) console.log(file.path)
 */
export class Dir {
  declare readonly [opaque]?: true
  /** The absolute local path or `s3://bucket/prefix`, without a trailing slash. */
  readonly path: string
  #hash: string | undefined
  #scope: StatScope | undefined

  static {
    setHash = (dir, hash, scope) => {
      dir.#hash = hash
      dir.#scope = hash === undefined ? undefined : scope
    }
    scopeOf = (dir) => dir.#scope
  }

  constructor(path: string) {
    const normalized = normalize(path)
    this.path = normalized.length > 1 ? normalized.replace(/\/+$/, "") : normalized
    Object.defineProperty(this, DIR, { value: true })
  }

  /** The hash recorded when the directory was last prepared (or decoded). */
  get hash(): string | undefined {
    return this.#hash
  }

  /** True for `s3://` prefixes. */
  get isRemote(): boolean {
    return isS3Uri(this.path)
  }

  /** The last path segment. */
  get basename(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1)
  }

  /**
   * The File `name` (a relative path, without `..`) inside this directory.
   *
   * @example
   * new Dir("s3://lab/index").file("genome.fa.fai")
   */
  file(name: string): File {
    if (typeof name !== "string" || name === "" || name.startsWith("/") || name.split("/").includes(".."))
      throw new ReductioError("INVALID_ARGUMENT", `Dir.file() needs a relative path inside ${this.path}, got ${JSON.stringify(name)}`)
    return new File(this.isRemote ? `${this.path}/${name}` : join(this.path, name))
  }

  /**
   * Every file under the directory, recursively, in path order, from one listing (S3 Files come
   * with their hashes). FILE_NOT_FOUND when the directory does not exist: an empty answer is never
   * mistaken for an empty directory.
   */
  async files(): Promise<File[]> {
    const storage = await storageFor(this.path)
    const prefix = `${this.path}/`
    const files: File[] = []
    let any = false
    for await (const entry of storage.list(prefix)) {
      any = true
      if (entry.uri.endsWith("/")) continue
      const file = new File(entry.uri)
      if (this.isRemote) {
        const hash = remoteHash(entry.uri, entry)
        setFileHash(file, hash, scopeNow())
        rememberHash(entry.uri, hash)
      }
      files.push(file)
    }
    if (!any && !(await dirExists(this))) {
      throw new ReductioError("FILE_NOT_FOUND", `directory ${this.path} does not exist`, { details: { uri: this.path } })
    }
    return files
  }

  /**
   * The files whose path relative to the directory matches `pattern` (`*`, `**`, `?`, `[...]`,
   * `{a,b}`).
   *
   * @example
   * const reads = await new Dir("s3://lab/run7").glob("lane*\/*.fastq.gz")
   */
  async glob(pattern: string): Promise<File[]> {
    const matches = globMatcher(pattern)
    const prefix = `${this.path}/`
    return (await this.files()).filter((file) => matches(file.path.slice(prefix.length)))
  }

  /** True when the directory exists (S3: when some object has its prefix). */
  async exists(): Promise<boolean> {
    return dirExists(this)
  }

  /**
   * Copies every file under this directory to `target` (a Dir, local path or S3 prefix), skipping
   * files already there with the same content; files only in the target stay. Returns the target.
   *
   * @example
   * const local = await new Dir("s3://lab/index").copyTo("index")
   */
  async copyTo(target: Dir | string): Promise<Dir> {
    const dest = typeof target === "string" ? new Dir(target) : target
    await syncDirectories(this.path, dest.path)
    setHash(dest, undefined, undefined)
    return dest
  }

  /**
   * Makes `target` hold what this directory holds, copying only files whose size or content
   * differs; with `delete`, removes the target's files this directory lacks.
   *
   * @example
   * const { copied, skipped } = await new Dir("results").syncTo("s3://lab/run7/results", { delete: true })
   */
  async syncTo(target: Dir | string, options: SyncOptions = {}): Promise<SyncResult> {
    const dest = typeof target === "string" ? new Dir(target) : target
    const result = await syncDirectories(this.path, dest.path, options)
    if (options.dryRun !== true) setHash(dest, undefined, undefined)
    return result
  }

  /**
   * Pairs this (remote) directory with a local directory inside a job: `script()` copies it in
   * before the command runs (inputs) or out after (outputs). `localPath` defaults to the basename.
   *
   * @example
   * script("bwa index -p index/genome genome.fa", { outputs: { index: new Dir("s3://lab/index").stage("index") } })
   */
  stage(localPath: string = this.basename): StagingDir {
    return new StagingDir(localPath, this)
  }

  /** Removes the directory and everything under it (a missing one is fine). */
  async rm(): Promise<void> {
    this.#hash = undefined
    if (!this.isRemote) {
      await rm(writablePath(this.path), { recursive: true, force: true })
      return
    }
    const storage = await storageFor(this.path)
    const uris: string[] = []
    for await (const entry of storage.list(`${this.path}/`)) uris.push(entry.uri)
    await storage.deleteMany(uris)
  }

  /** Recomputes the hash from a listing now (what the codec's `prepare` does outside an execution). */
  async updateHash(): Promise<string> {
    const hash = await dirHash(this)
    this.#hash = hash
    this.#scope = scopeNow()
    if (this.isRemote) rememberHash(`${this.path}/`, hash)
    return hash
  }

  toString(): string {
    return this.path
  }
}
