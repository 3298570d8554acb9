/**
 * @module work-dir
 * The agent's work directory, where bundles are extracted and cached: private to the user, so no
 * other user can plant code in it or lock the agent out of it.
 *
 * The default is `<tmpdir>/reductio-<uid>/code`, both levels created with mode 0700. A directory
 * that is a symbolic link, is owned by another user, or is writable by group or others is never
 * used: for the default, the agent warns and extracts into a fresh private directory of its own
 * (`mkdtemp`, no cache shared with other agents); a directory given with `--workdir` or
 * `REDUCTIO_WORKDIR` is refused with INVALID_ARGUMENT.
 */
import { lstat, mkdir, mkdtemp, realpath } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { ReductioError } from "../runtime/errors.js"

/**
 * The directory to extract into: `requested` (created if missing) or the per-user default.
 *
 * @example
 * const workdir = await privateWorkDir(args.workdir)
 */
export async function privateWorkDir(requested: string | undefined): Promise<string> {
  if (requested !== undefined) {
    const path = resolve(requested)
    await mkdir(path, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      throw new ReductioError("INVALID_ARGUMENT", `cannot create the work directory ${path}: ${error.message}`, {
        cause: error,
        details: { workdir: path },
      })
    })
    // The directory the path leads to now is the one used from here on, whatever the link says later.
    const real = await realpath(path)
    const problem = await privacyProblem(real)
    if (problem !== undefined) {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `the work directory ${path} ${problem}: use a directory you own that others cannot write (chmod 700), or leave --workdir and REDUCTIO_WORKDIR unset`,
        { details: { workdir: path } },
      )
    }
    return real
  }
  const base = join(tmpdir(), `reductio-${process.getuid?.() ?? "user"}`)
  const code = join(base, "code")
  for (const dir of [base, code]) {
    await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error
    })
    const problem = await privacyProblem(dir)
    if (problem !== undefined) {
      const fallback = await mkdtemp(`${base}-`)
      console.error(`reductio agent: not using ${dir}, which ${problem}; extracting into ${fallback} instead`)
      return fallback
    }
  }
  return code
}

/** Why `path` is not a private directory of this user, or undefined when it is one. */
async function privacyProblem(path: string): Promise<string | undefined> {
  const stats = await lstat(path)
  if (stats.isSymbolicLink()) return "is a symbolic link"
  if (!stats.isDirectory()) return "is not a directory"
  const uid = process.getuid?.()
  if (uid !== undefined && stats.uid !== uid) return `is owned by uid ${stats.uid}, not ${uid}`
  if ((stats.mode & 0o022) !== 0) return `is writable by group or others (mode ${(stats.mode & 0o777).toString(8)})`
  return undefined
}
