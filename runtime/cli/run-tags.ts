/**
 * @module run-tags
 * Tags of a `reductio run`: the user's (`--tag k=v`, repeatable) over automatic ones: who ran it
 * (`user`, `host`), the workflow's git commit and whether its working tree had changes
 * (`git_commit`, `git_dirty`, from one `git status` run while the workflow loads; left out when
 * the workflow is not in a git repository or git is missing or slow), and `reductio_version`.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { hostname, userInfo } from "node:os"
import { dirname, join } from "node:path"
import { ReductioError } from "../errors.js"
import { packageVersion } from "../package-root.js"

/** The keys reductio sets itself. */
export const AUTO_TAG_KEYS: ReadonlySet<string> = new Set(["user", "host", "git_commit", "git_dirty", "reductio_version"])

const TAG_KEY = /^[A-Za-z_][\w.-]{0,63}$/
const MAX_TAG_VALUE = 1000
const MAX_TAGS = 100
/** Longest wait for git; past it the git tags are left out rather than slow the run. */
const GIT_TIMEOUT_MS = 2000

/** Parses `--tag key=value` flags; a bad one is INVALID_ARGUMENT. */
export function parseTagFlags(flags: readonly string[]): Record<string, string> {
  if (flags.length > MAX_TAGS) throw new ReductioError("INVALID_ARGUMENT", `at most ${MAX_TAGS} --tag flags`)
  const tags: Record<string, string> = {}
  for (const flag of flags) {
    const at = flag.indexOf("=")
    const key = at < 0 ? flag : flag.slice(0, at)
    const value = at < 0 ? "" : flag.slice(at + 1)
    if (at < 0 || !TAG_KEY.test(key)) {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `--tag takes key=value, the key a letter or _ then up to 63 letters, digits, _ . or - (got ${JSON.stringify(flag.slice(0, 80))})`,
      )
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    if (value.length > MAX_TAG_VALUE || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `--tag ${key}: the value must be at most ${MAX_TAG_VALUE} characters, without control characters`,
      )
    }
    tags[key] = value
  }
  return tags
}

/** The automatic tags of a run of `workflowPath`; never fails (what cannot be known is left out). */
export async function automaticTags(workflowPath: string): Promise<Record<string, string>> {
  const tags: Record<string, string> = {}
  try {
    tags.reductio_version = packageVersion()
    const user = currentUser()
    if (user !== undefined) tags.user = user
    tags.host = hostname()
    const git = await gitState(dirname(workflowPath))
    if (git !== undefined) Object.assign(tags, { git_commit: git.commit, git_dirty: String(git.dirty) })
  } catch {
    // What cannot be known is left out: tags never fail a run.
  }
  return tags
}

function currentUser(): string | undefined {
  try {
    return userInfo().username
  } catch {
    return process.env.USER || process.env.USERNAME || undefined
  }
}

/** The commit and dirty flag of the repository holding `dir`, from one `git status`. */
async function gitState(dir: string): Promise<{ commit: string; dirty: boolean } | undefined> {
  if (!insideGitRepository(dir)) return undefined
  const output = await new Promise<string | undefined>((resolve) => {
    execFile(
      "git",
      ["status", "--porcelain=v2", "--branch", "--untracked-files=no"],
      // No index refresh written by a read-only look (GIT_OPTIONAL_LOCKS).
      { cwd: dir, timeout: GIT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" } },
      (error, stdout) => resolve(error === null ? stdout : undefined),
    )
  })
  const commit = output?.match(/^# branch\.oid ([0-9a-f]{40,64})$/m)?.[1]
  if (output === undefined || commit === undefined) return undefined
  return { commit, dirty: output.split("\n").some((line) => line !== "" && !line.startsWith("#")) }
}

/** A `.git` (directory, or file in a worktree) in `dir` or above: no process to spawn otherwise. */
function insideGitRepository(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, ".git"))) return true
    if (dirname(current) === current) return false
  }
}
