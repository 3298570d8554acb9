/**
 * @module args
 * The agent's command line. Every flag has an environment fallback, so a Batch job definition or a
 * Kubernetes indexed job can pass them either way; a flag wins over its variable.
 *
 * ```
 * node agent.js --code <uri> --input <uri> --scratch <root> [--index N] [--workdir <dir>]
 *   --code     REDUCTIO_CODE      the code bundle, `<scratch>/code/<sha256>.tar.gz`
 *   --input    REDUCTIO_INPUT     a job entry (`jobs/<eval>/input`) or an array of them (`arrays/<id>/input`)
 *   --scratch  REDUCTIO_SCRATCH   the scratch root outputs, errors and logs go under
 *   --index    AWS_BATCH_JOB_ARRAY_INDEX, then JOB_COMPLETION_INDEX: the element of an array input
 *   --workdir  REDUCTIO_WORKDIR   where bundles are extracted and cached (default: <tmpdir>/reductio-code)
 * ```
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ReductioError } from "../runtime/errors.js"

/** The agent's resolved arguments. */
export interface AgentArgs {
  readonly code: string
  readonly input: string
  readonly scratch: string
  readonly index: number | undefined
  readonly workdir: string
}

const FLAGS = {
  "--code": "REDUCTIO_CODE",
  "--input": "REDUCTIO_INPUT",
  "--scratch": "REDUCTIO_SCRATCH",
  "--index": "",
  "--workdir": "REDUCTIO_WORKDIR",
} as const
type Flag = keyof typeof FLAGS

/** Parses `argv` (without `node` and the script) with `env` fallbacks; INVALID_ARGUMENT when incomplete. */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv): AgentArgs {
  const given = new Map<Flag, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf("=")
    const flag = (eq > 0 ? arg.slice(0, eq) : arg) as Flag
    if (!(flag in FLAGS)) throw new ReductioError("INVALID_ARGUMENT", `unknown agent argument ${JSON.stringify(arg)}`)
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new ReductioError("INVALID_ARGUMENT", `${flag} needs a value`)
    given.set(flag, value)
  }
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
    workdir: pick("--workdir") ?? join(tmpdir(), "reductio-code"),
  }
}

function parseIndex(text: string): number {
  if (!/^\d+$/.test(text)) throw new ReductioError("INVALID_ARGUMENT", `array index ${JSON.stringify(text)} is not a non-negative integer`)
  return Number(text)
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value
}
