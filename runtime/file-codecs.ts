/**
 * @module file-codecs
 * The codecs of File, Dir, StagingFile and StagingDir: how each encodes, and the `prepare`,
 * `validate` and `lineage` hooks the scheduler calls. For S3 objects inside an execution the hooks
 * go through what the execution already learnt (file-hash.ts, stat-scope.ts): a File the agent
 * wrote, a Dir listed once, a HEAD made for one check serve every other.
 */
import { registerCodec, TAGS } from "./codec.js"
import { Dir, dirHashScope, setDirHash } from "./dir.js"
import { ReductioError } from "./errors.js"
import { File, fileHashScope, setFileHash } from "./file.js"
import { currentHash, dirHash, hashNow, preparedHash, stillValid, validatedHash, validateOnce } from "./file-hash.js"
import { isDir, isFile, isStagingDir, isStagingFile } from "./file-kinds.js"
import { StagingDir } from "./staging-dir.js"
import { StagingFile } from "./staging-file.js"
import { scopeNow } from "./stat-scope.js"

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
    setFileHash(file, hash)
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
  setFileHash(file, hash, scopeNow())
  return file
}

/** A File's hash before encoding: local files are stat'ed; S3 objects once per execution. */
async function prepareFile(file: File): Promise<void> {
  if (!file.isRemote) {
    await file.updateHash()
    return
  }
  const hash = await preparedHash({ key: file.path, hash: file.hash, scope: fileHashScope(file) }, () => currentHash(file))
  setFileHash(file, hash, scopeNow())
}

/** Whether a cached File still holds. */
function validateFile(file: File): Promise<boolean> {
  if (!file.isRemote) {
    return validateOnce(`${file.path}\u0000${file.hash}\u0000${file.contentHash}`, () => stillValid(file.hash, () => currentHash(file)))
  }
  return validatedHash({ key: file.path, hash: file.hash, scope: fileHashScope(file) }, () => currentHash(file)).then((valid) => {
    if (valid) setFileHash(file, file.hash, scopeNow())
    return valid
  })
}

async function prepareDir(dir: Dir): Promise<void> {
  if (!dir.isRemote) {
    await dir.updateHash()
    return
  }
  const hash = await preparedHash({ key: `${dir.path}/`, hash: dir.hash, scope: dirHashScope(dir) }, () => dirHash(dir))
  setDirHash(dir, hash, scopeNow())
}

function validateDir(dir: Dir): Promise<boolean> {
  if (!dir.isRemote) return stillValid(dir.hash, () => dirHash(dir))
  return validatedHash({ key: `${dir.path}/`, hash: dir.hash, scope: dirHashScope(dir) }, () => dirHash(dir)).then((valid) => {
    if (valid) setDirHash(dir, dir.hash, scopeNow())
    return valid
  })
}

function lineageOf(item: File | Dir): { path: string; hash: string } | undefined {
  return item.hash === undefined ? undefined : { path: item.path, hash: item.hash }
}

registerCodec<File>({
  tag: TAGS.file,
  name: "File",
  is: isFile,
  encode: encodeFile,
  decode: decodeFile,
  prepare: prepareFile,
  validate: validateFile,
  lineage: lineageOf,
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
    setDirHash(dir, hash, scopeNow())
    return dir
  },
  prepare: prepareDir,
  validate: validateDir,
  lineage: lineageOf,
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
  prepare: (staging) => prepareFile(staging.remote),
  validate: (staging) => validateFile(staging.remote),
  lineage: (staging) => lineageOf(staging.remote),
})

registerCodec<StagingDir>({
  tag: TAGS.stagingDir,
  name: "StagingDir",
  is: isStagingDir,
  encode: (staging) => ({ local: staging.local, remote: staging.remote }),
  decode: (data) => {
    const { local, remote } = (typeof data === "object" && data !== null ? data : {}) as Partial<StagingDir>
    if (typeof local !== "string" || !isDir(remote)) throw new Error("a stored StagingDir needs a local path and a Dir")
    return new StagingDir(local, remote)
  },
  prepare: (staging) => prepareDir(staging.remote),
  validate: (staging) => validateDir(staging.remote),
  lineage: (staging) => lineageOf(staging.remote),
})
