/**
 * @module staging-file
 * `StagingFile`: a remote File paired with a local path inside a job (`file.stage("local")`).
 */
import { resolve } from "node:path"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { File } from "./file.js"
import { STAGING } from "./file-kinds.js"

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
