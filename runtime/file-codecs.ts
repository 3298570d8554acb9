/**
 * @module file-codecs
 * The codecs of File, Dir and StagingFile: how each encodes, and the `prepare`, `validate` and
 * `lineage` hooks the scheduler calls.
 */
import { registerCodec, TAGS } from "./codec.js"
import { Dir, setDirHash } from "./dir.js"
import { ReductioError } from "./errors.js"
import { File, setFileHash } from "./file.js"
import { currentHash, dirHash, hashNow, stillValid, validateOnce } from "./file-hash.js"
import { isDir, isFile, isStagingFile } from "./file-kinds.js"
import { StagingFile } from "./staging-file.js"

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

function decodeFile(data: unknown): File {
  const { path, hash, contentHash } = data as FileData
  const file = new File(path, contentHash === true ? { contentHash } : {})
  setFileHash(file, hash)
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
    const { path, hash } = data as { path: string; hash: string }
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
    const { local, remote } = data as { local: string; remote: File }
    return new StagingFile(local, remote)
  },
  prepare: async (staging) => {
    await staging.remote.updateHash()
  },
  validate: (staging) => stillValid(staging.remote.hash, () => currentHash(staging.remote)),
  lineage: (staging) => (staging.remote.hash === undefined ? undefined : { path: staging.remote.path, hash: staging.remote.hash }),
})
