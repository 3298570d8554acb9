/**
 * @module dir
 * `Dir`: a local directory or an S3 key prefix, hashed by the files under it.
 */
import { stat as fsStat } from "node:fs/promises"
import { join } from "node:path"
import { opaque } from "./expression.js"
import { File } from "./file.js"
import { dirHash } from "./file-hash.js"
import { DIR, normalize } from "./file-kinds.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"

// Set by a static block: the codec restores a decoded value's hash without a public setter.
let setHash: (dir: Dir, hash: string | undefined) => void

/** Sets a Dir's recorded hash (the codec, when it decodes one). Not part of the public API. */
export function setDirHash(dir: Dir, hash: string | undefined): void {
  setHash(dir, hash)
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
    setHash = (dir, hash) => {
      dir.#hash = hash
    }
  }

  toString(): string {
    return this.path
  }
}
