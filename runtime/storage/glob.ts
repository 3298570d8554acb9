/**
 * @module glob
 * Glob patterns on relative paths (`/`-separated): `*` matches within one path segment, `**` any
 * number of segments, `?` one character, `[abc]` / `[!abc]` a character class, `{a,b}` either
 * alternative. With `matchBase`, a pattern without `/` matches the last segment at any depth
 * (`*.tmp` matches `a/b/c.tmp`), as in rsync and .gitignore.
 */
import { ReductioError } from "../errors.js"

/** The longest pattern accepted (patterns come from command lines and configuration). */
const MAX_PATTERN = 1024

/** Options of {@link globMatcher}. */
export interface GlobOptions {
  /** A pattern without `/` matches the basename at any depth. */
  readonly matchBase?: boolean
}

/**
 * A predicate for `pattern`; INVALID_ARGUMENT for an unbalanced `[` or `{`.
 *
 * @example
 * const fastq = globMatcher("**\/*.fastq.gz")
 * fastq("run1/lane2/reads.fastq.gz") // true
 */
export function globMatcher(pattern: string, options: GlobOptions = {}): (path: string) => boolean {
  if (typeof pattern !== "string" || pattern === "" || pattern.length > MAX_PATTERN)
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `a glob pattern must be a string of 1 to ${MAX_PATTERN} characters, got ${JSON.stringify(pattern.slice?.(0, 80) ?? pattern)}`,
    )
  // Runs of `**/` mean the same as one, and would each add a backtracking point to the regex.
  const body = translate(pattern.replace(/(?:\*\*\/)+/g, "**/"))
  const anyDepth = options.matchBase === true && !pattern.includes("/")
  const regex = new RegExp(`^${anyDepth ? "(?:.*/)?" : ""}${body}$`, "s")
  return (path) => regex.test(path)
}

/** True when `text` holds glob syntax (so a path up to it is a plain prefix). */
export function hasGlobSyntax(text: string): boolean {
  return /[*?[{]/.test(text)
}

function translate(pattern: string): string {
  let out = ""
  let braces = 0
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string
    if (ch === "*") {
      if (pattern[i + 1] === "*") {
        const slash = pattern[i + 2] === "/"
        out += slash ? "(?:.*/)?" : ".*"
        i += slash ? 2 : 1
      } else out += "[^/]*"
    } else if (ch === "?") out += "[^/]"
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 2)
      if (end < 0) throw unbalanced(pattern, "[")
      let set = pattern.slice(i + 1, end)
      const negated = set.startsWith("!") || set.startsWith("^")
      if (negated) set = set.slice(1)
      out += `[${negated ? "^/" : ""}${set.replaceAll("\\", "\\\\")}]`
      i = end
    } else if (ch === "{") {
      braces++
      out += "(?:"
    } else if (ch === "}" && braces > 0) {
      braces--
      out += ")"
    } else if (ch === "," && braces > 0) out += "|"
    else out += ch.replace(/[.+^$()|\\\]}]/g, "\\$&")
  }
  if (braces > 0) throw unbalanced(pattern, "{")
  return out
}

function unbalanced(pattern: string, open: string): ReductioError {
  return new ReductioError("INVALID_ARGUMENT", `glob ${JSON.stringify(pattern)} has an unclosed ${open}`)
}
