/**
 * @module seal
 * The seal of a cached extraction: a listing of every path under the directory (kind, mode, and
 * the sha256 of each file or the target of each link), written as `.reductio-seal.json` once the
 * extraction is complete and checked before a cached extraction's code is imported. A file changed,
 * added or removed since, a path owned by another user, or an extraction left half-done (no seal)
 * is detected, and the bundle is extracted again. The work directory's privacy (work-dir.ts) keeps
 * other users out; the seal catches what happens to the directory anyway.
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { lstat, readFile, readdir, readlink, writeFile } from "node:fs/promises"
import { join } from "node:path"

/** The seal's file name at the root of an extraction (a bundle may not bring one). */
export const SEAL_FILE = ".reductio-seal.json"

const SEAL_VERSION = 1

/** What a check of a cached extraction found. */
export type SealState = "sealed" | "absent" | "broken"

interface Seal {
  readonly version: number
  readonly bundle: string
  readonly entries: readonly string[]
}

/** Writes the seal of the complete extraction in `dir` (of the bundle `bundleSha256`). */
export async function writeSeal(dir: string, bundleSha256: string): Promise<void> {
  const entries = await listing(dir, Number.POSITIVE_INFINITY)
  if (entries === undefined) throw new Error(`cannot seal ${dir}: it holds a path of another kind or owner`)
  const seal: Seal = { version: SEAL_VERSION, bundle: bundleSha256, entries }
  await writeFile(join(dir, SEAL_FILE), `${JSON.stringify(seal)}\n`, { flag: "wx", mode: 0o600 })
}

/**
 * Checks the extraction in `dir` against its seal: "absent" when there is no such directory,
 * "broken" when it is not a directory of this user, has no seal, or differs from its seal.
 */
export async function checkSeal(dir: string, bundleSha256: string): Promise<SealState> {
  const stats = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined
    throw error
  })
  if (stats === undefined) return "absent"
  if (!stats.isDirectory() || !ownedByUs(stats.uid)) return "broken"
  const seal = await readSeal(dir)
  if (seal === undefined || seal.version !== SEAL_VERSION || seal.bundle !== bundleSha256) return "broken"
  // Bounded by the seal: a directory that has grown is broken, however large it has grown.
  const entries = await listing(dir, seal.entries.length)
  if (entries === undefined || entries.length !== seal.entries.length) return "broken"
  return entries.every((entry, i) => entry === seal.entries[i]) ? "sealed" : "broken"
}

async function readSeal(dir: string): Promise<Seal | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, SEAL_FILE), "utf8")) as Partial<Seal>
    if (!Array.isArray(parsed.entries) || !parsed.entries.every((entry) => typeof entry === "string")) return undefined
    return parsed as Seal
  } catch {
    return undefined
  }
}

/**
 * Every path under `dir` but the seal, sorted, as `d path mode`, `f path mode sha256` or
 * `l path target`; undefined when there are more than `maxEntries` paths, a path of another kind
 * (a fifo, a device) or one owned by another user.
 */
async function listing(dir: string, maxEntries: number): Promise<string[] | undefined> {
  const entries: string[] = []
  const pending: string[] = [""]
  while (pending.length > 0) {
    const relative = pending.pop() as string
    const names = (await readdir(join(dir, relative))).sort()
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`
      if (path === SEAL_FILE) continue
      if (entries.length >= maxEntries) return undefined
      const absolute = join(dir, path)
      const stats = await lstat(absolute)
      if (!ownedByUs(stats.uid)) return undefined
      const mode = (stats.mode & 0o7777).toString(8)
      if (stats.isDirectory()) {
        entries.push(`d ${JSON.stringify(path)} ${mode}`)
        pending.push(path)
      } else if (stats.isFile()) entries.push(`f ${JSON.stringify(path)} ${mode} ${await fileHash(absolute, stats.size)}`)
      else if (stats.isSymbolicLink()) entries.push(`l ${JSON.stringify(path)} ${JSON.stringify(await readlink(absolute))}`)
      else return undefined
    }
  }
  return entries.sort()
}

/** Files up to this size are read whole (a stream costs more than it saves); larger ones are streamed. */
const READ_WHOLE_BYTES = 1024 * 1024

async function fileHash(path: string, size: number): Promise<string> {
  const hash = createHash("sha256")
  if (size <= READ_WHOLE_BYTES) return hash.update(await readFile(path)).digest("hex")
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

function ownedByUs(uid: number): boolean {
  return process.getuid === undefined || uid === process.getuid()
}
