/**
 * @module partition-mapper
 * The Node side of a Spark partition on AWS Glue, in the manner of `RDD.pipe`: the Glue shim starts
 * one process per partition and streams its records through stdin and stdout as JSON lines.
 *
 * ```
 * node partition-mapper.js --code <bundle uri> --task <name> --index <partition>
 *                          [--scratch <root> --eval <eval hash>] [--workdir <dir>] [limits]
 * ```
 * It loads the bundle as the agent does (verified, extracted, the same kernel linked in), finds the
 * task's mapper (declared with `partitionTask`), and writes one JSON line per output record on
 * stdout. The task's console output goes to stderr, so stdout carries records only. When the mapper
 * throws, the error record is written to `<scratch>/jobs/<eval>/error` (when given) and the exit
 * code is 1; any other failure exits 2. Built by the aws_glue executor (runtime/executor/glue/
 * assets.ts) into one self-contained file, like the agent. The work directory and the archive
 * limits (flags or REDUCTIO_WORKDIR and REDUCTIO_MAX_* variables) are the agent's (agent/args.ts).
 */
import { createInterface } from "node:readline"
import { pathToFileURL } from "node:url"
import { encode } from "../runtime/codec.js"
import { partitionMapperOf, type Row } from "../runtime/dataset.js"
import { ReductioError, toErrorRecord } from "../runtime/errors.js"
import * as kernel from "../runtime/index.js"
import { AGENT_EXIT, isSha256Hex, scratch } from "../runtime/protocol.js"
import { LIMIT_FLAGS, limitsOf, parseFlags, parseIndex } from "./args.js"
import { loadCode } from "./code.js"
import type { ArchiveLimits } from "./extract.js"
import { installKernel } from "./kernel-link.js"
import { scratchIoFor } from "./scratch-io.js"
import { privateWorkDir } from "./work-dir.js"

interface MapperArgs {
  readonly code: string
  readonly task: string
  readonly index: number
  readonly scratch: string | undefined
  readonly evalHash: string | undefined
  readonly workdir: string | undefined
  readonly limits: ArchiveLimits
}

const MAPPER_FLAGS = ["--code", "--task", "--index", "--scratch", "--eval", "--workdir", ...LIMIT_FLAGS]

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): MapperArgs {
  const given = parseFlags(argv, MAPPER_FLAGS)
  const need = (flag: string) => {
    const value = given.get(flag)
    if (value === undefined) throw new ReductioError("INVALID_ARGUMENT", `partition mapper: missing ${flag}`)
    return value
  }
  const evalHash = given.get("--eval")
  if (evalHash !== undefined && !isSha256Hex(evalHash)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `partition mapper: --eval ${JSON.stringify(String(evalHash).slice(0, 80))} is not a lowercase hex sha256`,
    )
  }
  return {
    code: need("--code"),
    task: need("--task"),
    index: parseIndex(need("--index")),
    scratch: given.get("--scratch"),
    evalHash,
    workdir: given.get("--workdir") ?? (env.REDUCTIO_WORKDIR || undefined),
    limits: limitsOf(given, env),
  }
}

async function* stdinRows(): AsyncIterable<Row> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })
  for await (const line of lines) if (line.trim() !== "") yield JSON.parse(line) as Row
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()))
  })
}

async function main(argv: readonly string[]): Promise<number> {
  let args: MapperArgs
  try {
    args = parseArgs(argv, process.env)
    const code = await loadCode(args.code, await scratchIoFor(args.code), await privateWorkDir(args.workdir), { ...kernel }, args.limits)
    installKernel({ ...kernel })
    process.setSourceMapsEnabled(true)
    // stdout carries records only: the task's console.log goes to the log (stderr).
    console.log = console.error
    console.info = console.error
    await import(pathToFileURL(code.entry).href)
  } catch (error) {
    console.error(`reductio partition mapper: ${(error as Error).message}`)
    return AGENT_EXIT.infrastructure
  }
  const mapper = partitionMapperOf(args.task)
  if (mapper === undefined) {
    console.error(`reductio partition mapper: ${args.task} is not a partitionTask in this bundle`)
    return AGENT_EXIT.infrastructure
  }
  try {
    let batch = ""
    for await (const row of mapper(stdinRows(), { index: args.index, shard: { uri: `partition-${args.index}`, size: 0 } })) {
      batch += `${JSON.stringify(row)}\n`
      if (batch.length >= 64 * 1024) {
        await write(batch)
        batch = ""
      }
    }
    if (batch !== "") await write(batch)
    return AGENT_EXIT.done
  } catch (error) {
    console.error(`reductio partition mapper: partition ${args.index} of ${args.task} failed: ${(error as Error).stack ?? String(error)}`)
    if (args.scratch !== undefined && args.evalHash !== undefined) {
      const uri = scratch.error(args.scratch, args.evalHash)
      await (await scratchIoFor(uri)).write(uri, encode(toErrorRecord(error), "error")).catch(() => undefined)
    }
    return AGENT_EXIT.taskFailed
  }
}

const exitCode = await main(process.argv.slice(2))
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
process.exit(exitCode)
