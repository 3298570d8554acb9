/**
 * @module archive-tree
 * The in-memory model of a tree being extracted, which decides whether an archive entry is safe
 * before anything is written for it. The rule is the simplest one that cannot be talked around:
 *
 * - names are relative, without `..`, NUL or backslash tricks, at most 4,096 bytes (255 a part);
 * - every parent of an entry is a directory extracted (or implied) earlier, never a link or a file,
 *   so nothing is ever written through a link;
 * - a path is written once (a directory may be repeated);
 * - a symbolic link must point, relative to its own directory, at a file (or a link to one)
 *   extracted before it, through directories only: links to directories, to missing paths and
 *   outside the tree are refused. Since no link leads to a directory, resolving a path in the model
 *   gives the same answer as the file system, whatever order entries come in;
 * - a hard link must name a regular file extracted before it.
 *
 * Every refusal is UNSAFE_ARCHIVE.
 */
import { ReductioError } from "../runtime/errors.js"

/** What a path of the tree is. */
export type TreeKind = "dir" | "file" | "symlink"

/** The extracted tree: each relative POSIX path (without `./`) and what it is. */
export type ArchiveTree = Map<string, TreeKind>

const MAX_NAME_BYTES = 4096
const MAX_PART_BYTES = 255

/** The parts of an entry name, refused when absolute, with `..`, or otherwise unsafe. */
export function entryParts(name: string): string[] {
  if (name === "" || name.includes("\0")) throw unsafe(name, "empty or NUL in name")
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw unsafe(name, `a name longer than ${MAX_NAME_BYTES} bytes`)
  if (name.startsWith("/") || name.startsWith("\\") || /^[A-Za-z]:/.test(name)) throw unsafe(name, "absolute path")
  const parts = name.split(/[\\/]+/).filter((part) => part !== "" && part !== ".")
  if (parts.includes("..")) throw unsafe(name, "`..` in path")
  if (parts.length === 0) throw unsafe(name, "names the archive root")
  if (parts.some((part) => Buffer.byteLength(part) > MAX_PART_BYTES)) throw unsafe(name, `a path part longer than ${MAX_PART_BYTES} bytes`)
  return parts
}

/** Records the parents of `parts` as directories, refusing a parent that is a link or a file. */
export function claimParents(tree: ArchiveTree, parts: readonly string[], name: string): void {
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/")
    const kind = tree.get(parent)
    if (kind === undefined) tree.set(parent, "dir")
    else if (kind !== "dir") throw unsafe(name, `goes through ${kind === "symlink" ? "a link" : "a file"} in the archive (${parent})`)
  }
}

/** Records `parts` as `kind`; only a directory may be stated twice. */
export function claim(tree: ArchiveTree, parts: readonly string[], kind: TreeKind, name: string): void {
  const path = parts.join("/")
  const existing = tree.get(path)
  if (existing !== undefined && !(existing === "dir" && kind === "dir")) throw unsafe(name, "a second entry for the same path")
  tree.set(path, kind)
}

/**
 * Checks a symbolic link's target: relative to the link's directory, through directories of the
 * tree only, ending at a file (or a link to one) extracted earlier. Returns the target as given.
 */
export function checkSymlink(tree: ArchiveTree, parts: readonly string[], linkname: string | null | undefined, name: string): string {
  const target = checkedLinkname(linkname, name, "symlink")
  const segments = target.split("/")
  const last = segments.at(-1) as string
  if (last === "" || last === "." || last === "..") throw unsafe(name, "a symlink to a directory")
  const resolved = parts.slice(0, -1)
  for (const [i, segment] of segments.entries()) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") {
      if (resolved.length === 0) throw unsafe(name, "a symlink that leaves the bundle directory")
      resolved.pop()
      continue
    }
    resolved.push(segment)
    const kind = tree.get(resolved.join("/"))
    if (i < segments.length - 1 && kind !== "dir") throw unsafe(name, `a symlink through ${resolved.join("/")}, which is not a directory`)
  }
  const kind = tree.get(resolved.join("/"))
  if (kind === "dir") throw unsafe(name, "a symlink to a directory")
  if (kind === undefined) throw unsafe(name, "a symlink must point at a file that comes before it in the archive")
  return target
}

/** Checks a hard link's source (an archive path): a regular file extracted earlier. Returns its parts. */
export function checkHardLink(tree: ArchiveTree, linkname: string | null | undefined, name: string): string[] {
  const source = entryParts(checkedLinkname(linkname, name, "link"))
  if (tree.get(source.join("/")) !== "file") throw unsafe(name, "a hard link must name a regular file that comes before it in the archive")
  return source
}

function checkedLinkname(linkname: string | null | undefined, name: string, kind: "symlink" | "link"): string {
  if (linkname === undefined || linkname === null || linkname === "") throw unsafe(name, `${kind} without a target`)
  if (linkname.includes("\0") || Buffer.byteLength(linkname) > MAX_NAME_BYTES) throw unsafe(name, `${kind} with an unusable target`)
  if (linkname.startsWith("/") || linkname.includes("\\") || /^[A-Za-z]:/.test(linkname)) {
    throw unsafe(name, `${kind} to an absolute or non-POSIX path`)
  }
  return linkname
}

/** UNSAFE_ARCHIVE naming the entry. */
export function unsafe(name: string, why: string): ReductioError {
  return new ReductioError("UNSAFE_ARCHIVE", `refusing archive entry ${JSON.stringify(name.slice(0, 200))}: ${why}`, {
    details: { entry: name.slice(0, 200) },
  })
}
