/**
 * @module args
 * The agent's command line. Every flag has an environment fallback, so a Batch job definition or a
 * Kubernetes indexed job can pass them either way; a flag wins over its variable. Every value is
 * checked here (INVALID_ARGUMENT): an index is a non-negative integer, a limit a positive one, and
 * no flag is given twice or empty.
 *
 * ```
 * node agent.js --code <uri> --input <uri> --scratch <root> [--index N] [--workdir <dir>] [limits]
 *   --code     REDUCTIO_CODE      the code bundle, `<scratch>/code/<sha256>.tar.gz`
 *   --input    REDUCTIO_INPUT     a job entry (`jobs/<eval>/input`) or an array of them (`arrays/<id>/input`)
 *   --scratch  REDUCTIO_SCRATCH   the scratch root outputs, errors and logs go under
 *   --index    AWS_BATCH_JOB_ARRAY_INDEX, then JOB_COMPLETION_INDEX: the element of an array input
 *   --workdir  REDUCTIO_WORKDIR   where bundles are extracted and cached (default: <tmpdir>/reductio-<uid>/code)
 *   --max-bundle-bytes    REDUCTIO_MAX_BUNDLE_BYTES    bytes of a bundle, compressed and uncompressed
 *   --max-bundle-entries  REDUCTIO_MAX_BUNDLE_ENTRIES  entries of a bundle
 *   --max-entry-bytes     REDUCTIO_MAX_ENTRY_BYTES     bytes of one file of a bundle
 * ```
 */
import { ReductioError } from "../runtime/errors.js"
import { type ArchiveLimits, DEFAULT_ARCHIVE_LIMITS } from "./extract.js"

/** The agent's resolved arguments. */
export interface AgentArgs {
  readonly code: string
  readonly input: string
  readonly scratch: string
  readonly index: number | undefined
  /** The work directory asked for (flag or variable); undefined for the private per-user default. */
  readonly workdir: string | undefined
  readonly limits: ArchiveLimits
}

const FLAGS = {
  "--code": "REDUCTIO_CODE",
  "--input": "REDUCTIO_INPUT",
  "--scratch": "REDUCTIO_SCRATCH",
  "--index": "",
  "--workdir": "REDUCTIO_WORKDIR",
  "--max-bundle-bytes": "REDUCTIO_MAX_BUNDLE_BYTES",
  "--max-bundle-entries": "REDUCTIO_MAX_BUNDLE_ENTRIES",
  "--max-entry-bytes": "REDUCTIO_MAX_ENTRY_BYTES",
} as const
type Flag = keyof typeof FLAGS

/**
 * Parses `argv` (without `node` and the script) with `env` fallbacks; INVALID_ARGUMENT when
 * incomplete or malformed.
 *
 * @example
 * const args = parseAgentArgs(["--code", uri, "--input", input, "--scratch", root], process.env)
 */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv): AgentArgs {
  const given = parseFlags(argv, Object.keys(FLAGS))
  const pick = (flag: Exclude<Flag, "--index">): string | undefined => given.get(flag) ?? nonEmpty(env[FLAGS[flag]])
  const required = (flag: "--code" | "--input" | "--scratch"): string => {
    const value = pick(flag)
    if (value === undefined) throw new ReductioError("INVALID_ARGUMENT", `missing ${flag} (or ${FLAGS[flag]})`)
    return value
  }
  const indexText = given.get("--index") ?? nonEmpty(env.AWS_BATCH_JOB_ARRAY_INDEX) ?? nonEmpty(env.JOB_COMPLETION_INDEX)
  return {
    code: required("--code"),
    input: required("--input"),
    scratch: required("--scratch"),
    index: indexText === undefined ? undefined : parseIndex(indexText),
    workdir: pick("--workdir"),
    limits: limitsOf(given, env),
  }
}

/** `--flag value` and `--flag=value` pairs of the known flags; each at most once, never empty. */
export function parseFlags(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const given = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf("=")
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    if (!known.includes(flag)) throw new ReductioError("INVALID_ARGUMENT", `unknown argument ${JSON.stringify(arg.slice(0, 100))}`)
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined || value === "" || (eq < 0 && known.includes(value))) {
      throw new ReductioError("INVALID_ARGUMENT", `${flag} needs a value`)
    }
    if (given.has(flag)) throw new ReductioError("INVALID_ARGUMENT", `${flag} is given twice`)
    given.set(flag, value)
  }
  return given
}

/** An array index: a non-negative integer of at most 9 digits (Batch arrays hold at most 10,000). */
export function parseIndex(text: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw new ReductioError("INVALID_ARGUMENT", `array index ${JSON.stringify(text.slice(0, 40))} is not a non-negative integer`)
  }
  return Number(text)
}

/** A limit: a positive integer number (of bytes or entries), `fallback` when not given. */
function parseLimit(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value)) {
    throw new ReductioError("INVALID_ARGUMENT", `${flag} ${JSON.stringify(text.slice(0, 40))} is not a positive integer`)
  }
  return value
}

/** The archive limits from parsed flags (see {@link parseFlags}), then the environment, then the defaults. */
export function limitsOf(given: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv): ArchiveLimits {
  const limit = (flag: "--max-bundle-bytes" | "--max-bundle-entries" | "--max-entry-bytes", fallback: number) =>
    parseLimit(flag, given.get(flag) ?? nonEmpty(env[FLAGS[flag]]), fallback)
  return {
    maxBytes: limit("--max-bundle-bytes", DEFAULT_ARCHIVE_LIMITS.maxBytes),
    maxEntries: limit("--max-bundle-entries", DEFAULT_ARCHIVE_LIMITS.maxEntries),
    maxEntryBytes: limit("--max-entry-bytes", DEFAULT_ARCHIVE_LIMITS.maxEntryBytes),
  }
}

/** The flags that set archive limits (the partition mapper takes them too). */
export const LIMIT_FLAGS = ["--max-bundle-bytes", "--max-bundle-entries", "--max-entry-bytes"] as const

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value
}
