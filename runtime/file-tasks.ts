/**
 * @module file-tasks
 * The file helpers a workflow reaches for, as tasks (so they run on any executor and are cached
 * and recorded like any call): `copyFile`, `copyDir` and `globFile`.
 *
 * @example
 * const local = copyFile(new File("s3://lab/ref.fa"), "/scratch/ref.fa")     // Lazy<File>
 * const reads = globFile("s3://lab/run7/*.fastq.gz")                          // Lazy<File[]>
 */
import { Dir } from "./dir.js"
import { ReductioError } from "./errors.js"
import type { File } from "./file.js"
import { globMatcher, hasGlobSyntax } from "./storage/glob.js"
import { task } from "./task.js"

/**
 * Copies a File to `dest` (a path or S3 URI) and returns the copy. Cached by the source's hash:
 * a rerun with an unchanged source and an intact copy does nothing.
 *
 * @example
 * const copied = copyFile(new File("data/a.csv"), "s3://lab/in/a.csv")
 */
export const copyFile = task("copyFile", async (source: File, dest: string): Promise<File> => source.copyTo(dest), {
  namespace: "reductio",
  version: "1",
})

/**
 * Copies every file of a Dir to `dest` (skipping files already there with the same content) and
 * returns the copy.
 *
 * @example
 * const index = copyDir(new Dir("s3://lab/index"), "/scratch/index")
 */
export const copyDir = task("copyDir", async (source: Dir, dest: string): Promise<Dir> => source.copyTo(dest), {
  namespace: "reductio",
  version: "1",
})

/**
 * The Files matching a glob (`s3://lab/run7/**\/*.fastq.gz`, `data/*.csv`), in path order. Not
 * cached: what matches depends on what exists when it runs.
 *
 * @example
 * const counts = map(globFile("s3://lab/run7/*.fastq"), (reads) => countReads(reads))
 */
export const globFile = task(
  "globFile",
  async (pattern: string): Promise<File[]> => {
    if (typeof pattern !== "string" || !hasGlobSyntax(pattern)) {
      throw new ReductioError("INVALID_ARGUMENT", `globFile needs a glob pattern (with *, ?, [ or {), got ${JSON.stringify(pattern)}`)
    }
    const { base, rest } = splitGlob(pattern)
    const matches = globMatcher(rest)
    const dir = new Dir(base)
    const prefix = `${dir.path}/`
    return (await dir.files()).filter((file) => matches(file.path.slice(prefix.length)))
  },
  { namespace: "reductio", version: "1", cache: false },
)

/** Splits a pattern at the last `/` before its first glob character: the directory to list, and the rest. */
function splitGlob(pattern: string): { base: string; rest: string } {
  const first = pattern.search(/[*?[{]/)
  const slash = pattern.lastIndexOf("/", first)
  if (slash < 0) return { base: ".", rest: pattern }
  return { base: pattern.slice(0, slash) || "/", rest: pattern.slice(slash + 1) }
}
