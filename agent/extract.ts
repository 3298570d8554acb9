/**
 * @module extract
 * Safe extraction of a code bundle (tar.gz) into an empty directory. Nothing is ever written outside
 * it: absolute paths, `..` segments, links whose target leaves the directory, entries that would go
 * through a link, and special files (devices, fifos) are all refused with UNSAFE_ARCHIVE before
 * anything is written for them.
 */
import { link, lstat, mkdir, open, symlink } from "node:fs/promises"
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path"
import { gunzipSync } from "node:zlib"
import { extract as tarExtract } from "tar-stream"
import { ReductioError } from "../runtime/errors.js"

/**
 * Extracts `tarGz` into `dir` (which must exist and be empty) and returns the relative paths of
 * the files written.
 *
 * @example
 * await extractSafely(bytes, await mkdtemp(join(tmpdir(), "code-")))
 */
export async function extractSafely(tarGz: Uint8Array, dir: string): Promise<string[]> {
  const root = resolve(dir)
  let tar: Buffer
  try {
    tar = gunzipSync(tarGz)
  } catch (error) {
    throw new ReductioError("UNSAFE_ARCHIVE", `the code bundle is not a valid gzip stream: ${(error as Error).message}`, { cause: error })
  }
  const written: string[] = []
  const entries = tarExtract()
  const feeding = new Promise<void>((resolveFeed, reject) => {
    entries.on("error", reject)
    entries.on("finish", () => resolveFeed())
    entries.end(tar)
  })
  try {
    for await (const entry of entries) {
      const name = entry.header.name
      const target = await checkedTarget(root, name)
      switch (entry.header.type) {
        case "file":
        case "contiguous-file":
          await writeEntry(target, entry, entry.header.mode)
          written.push(relative(root, target).split(sep).join("/"))
          break
        case "directory":
          await mkdir(target, { recursive: true, mode: 0o755 })
          entry.resume()
          break
        case "symlink":
          await checkedLinkTarget(root, target, name, entry.header.linkname, "symlink")
          await mkdir(dirname(target), { recursive: true })
          await symlink(entry.header.linkname as string, target)
          entry.resume()
          break
        case "link": {
          const source = await checkedLinkTarget(root, target, name, entry.header.linkname, "link")
          await mkdir(dirname(target), { recursive: true })
          await link(source, target)
          entry.resume()
          break
        }
        default:
          throw unsafe(name, `entries of type ${String(entry.header.type)} are not allowed`)
      }
    }
    await feeding
  } catch (error) {
    entries.destroy()
    if (error instanceof ReductioError) throw error
    throw new ReductioError("UNSAFE_ARCHIVE", `the code bundle is not a valid tar archive: ${(error as Error).message}`, { cause: error })
  }
  return written
}

/** The absolute destination of an entry, after checking it stays inside `root` and goes through no link. */
async function checkedTarget(root: string, name: string): Promise<string> {
  if (name === "" || name.includes("\0")) throw unsafe(name, "empty or NUL in name")
  if (isAbsolute(name) || name.startsWith("/") || name.startsWith("\\") || /^[A-Za-z]:/.test(name)) {
    throw unsafe(name, "absolute path")
  }
  const parts = name.split(/[\\/]+/).filter((part) => part !== "" && part !== ".")
  if (parts.includes("..")) throw unsafe(name, "`..` in path")
  if (parts.length === 0) throw unsafe(name, "names the archive root")
  const target = join(root, ...parts)
  await refuseLinkedAncestors(root, parts, name)
  return target
}

/** Refuses an entry whose parent directories include a link (writing through it could leave root). */
async function refuseLinkedAncestors(root: string, parts: readonly string[], name: string): Promise<void> {
  let current = root
  for (const part of parts) {
    current = join(current, part)
    const stats = await lstat(current).catch(() => undefined)
    if (stats === undefined) return
    if (stats.isSymbolicLink()) throw unsafe(name, "goes through a link in the archive")
  }
}

/**
 * Checks a link's target stays inside root. Symlink targets are relative to the link's directory;
 * hard link targets are archive paths. Returns the absolute target.
 */
async function checkedLinkTarget(
  root: string,
  target: string,
  name: string,
  linkname: string | null | undefined,
  kind: "symlink" | "link",
): Promise<string> {
  if (linkname === undefined || linkname === null || linkname === "") throw unsafe(name, `${kind} without a target`)
  if (isAbsolute(linkname) || linkname.startsWith("\\") || /^[A-Za-z]:/.test(linkname)) throw unsafe(name, `${kind} to an absolute path`)
  const base = kind === "symlink" ? posix.dirname(relative(root, target).split(sep).join("/")) : "."
  const joined = posix.normalize(posix.join(base, linkname.replace(/\\/g, "/")))
  if (joined === ".." || joined.startsWith("../") || posix.isAbsolute(joined)) throw unsafe(name, `${kind} leaves the bundle directory`)
  if (joined !== ".") await refuseLinkedAncestors(root, joined.split("/"), name)
  return join(root, ...joined.split("/"))
}

async function writeEntry(target: string, content: AsyncIterable<unknown>, mode: number | undefined): Promise<void> {
  await mkdir(dirname(target), { recursive: true })
  // "wx": never follows or overwrites an existing path (a duplicate entry, or a link planted earlier).
  const handle = await open(target, "wx", (mode ?? 0o644) & 0o755)
  try {
    for await (const chunk of content) await handle.write(chunk as Buffer)
  } finally {
    await handle.close()
  }
}

function unsafe(name: string, why: string): ReductioError {
  return new ReductioError("UNSAFE_ARCHIVE", `refusing archive entry ${JSON.stringify(name)}: ${why}`, { details: { entry: name } })
}
