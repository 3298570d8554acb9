/**
 * @module staging-dir
 * `StagingDir`: a remote Dir paired with a local directory inside a job (`dir.stage("local")`),
 * the directory counterpart of StagingFile in `script()` inputs and outputs.
 */
import { mkdir } from "node:fs/promises"
import { resolve } from "node:path"
import { Dir } from "./dir.js"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { STAGING_DIR } from "./file-kinds.js"
import { writablePath } from "./storage/local-storage.js"
import { storageFor } from "./storage/storage-registry.js"

/**
 * A remote Dir paired with a local directory inside a job (see {@link Dir.stage}). The local path
 * is relative to the job's working directory unless absolute.
 *
 * @example
 * script("tar -xf ref.tar -C index", {
 *   inputs: [new File("s3://lab/ref.tar").stage()],
 *   outputs: { index: new Dir("s3://lab/index").stage("index") },
 * })
 */
export class StagingDir {
  declare readonly [opaque]?: true
  /** The directory inside the job (relative paths resolve against the job's directory). */
  readonly local: string
  /** The directory in storage. */
  readonly remote: Dir

  constructor(local: string, remote: Dir) {
    if (typeof local !== "string" || local === "")
      throw new ReductioError("INVALID_ARGUMENT", `stage() needs a local directory for ${remote.path}`)
    this.local = local
    this.remote = remote
    Object.defineProperty(this, STAGING_DIR, { value: true })
  }

  /** The local Dir, resolved against `dir` (default: the working directory). */
  localDir(dir?: string): Dir {
    return new Dir(dir === undefined ? this.local : resolve(dir, this.local))
  }

  /** Copies remote → local (every file); FILE_NOT_FOUND naming the remote directory when it is missing. */
  async stageIn(dir?: string): Promise<Dir> {
    return this.remote.copyTo(this.localDir(dir))
  }

  /**
   * Copies local → remote, skipping files the remote already holds with the same content (files
   * only in the remote stay). An empty local directory leaves an S3 folder marker, so the remote
   * Dir exists. Returns the remote Dir.
   */
  async stageOut(dir?: string): Promise<Dir> {
    const local = this.localDir(dir)
    const remote = new Dir(this.remote.path)
    const result = await local.syncTo(remote)
    if (result.copied + result.skipped === 0) {
      if (remote.isRemote) await (await storageFor(remote.path)).writeBytes(`${remote.path}/`, "")
      else await mkdir(writablePath(remote.path), { recursive: true })
    }
    return remote
  }
}
