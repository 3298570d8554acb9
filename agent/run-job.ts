/**
 * @module run-job
 * One agent run: read the job entry, skip when a valid output exists, load the code, run the task
 * function once, write its output or error record and the captured log, and return the exit code.
 *
 * Exit codes ({@link AGENT_EXIT}): 0 done (or already done); 1 the user's code failed, with the
 * error record written (the task threw, its result could not be encoded, the bundle threw while
 * loading or does not register the task: retrying the same code would fail again); 2 the job could
 * not run (bad arguments, missing or malformed input, tampered, unsafe or oversized bundle,
 * protocol mismatch, storage); 143 SIGTERM or SIGINT stopped it (termination.ts), with a CANCELLED
 * record when the entry had been read.
 */
import { pathToFileURL } from "node:url"
import { decode, encode, prepareForEncoding } from "../runtime/codec.js"
import { checkedTaskContext, runWithContext } from "../runtime/context.js"
import { ReductioError, isReductioError, toErrorRecord } from "../runtime/errors.js"
import {
  AGENT_EXIT,
  type JobEntry,
  arraySlotRange,
  decodeArrayEntry,
  decodeArrayInput,
  decodeArraySlot,
  decodeEntry,
  scratch,
} from "../runtime/protocol.js"
import { lookupTask } from "../runtime/task.js"
import { callWithSignal } from "../runtime/task-context.js"
import { type AgentArgs, parseAgentArgs } from "./args.js"
import { loadCode } from "./code.js"
import { installKernel } from "./kernel-link.js"
import { type LogCapture, captureOutput } from "./log-capture.js"
import { type ScratchIo, scratchIoFor } from "./scratch-io.js"
import { atMost, watchTermination } from "./termination.js"
import { privateWorkDir } from "./work-dir.js"

type ExitCode = (typeof AGENT_EXIT)[keyof typeof AGENT_EXIT]

/** The agent's environment: its kernel module (the namespace the user's `reductio-workflow` resolves to). */
export interface AgentContext {
  readonly argv: readonly string[]
  readonly env: NodeJS.ProcessEnv
  readonly kernel: Record<string, unknown>
}

/** A failure of the user's code (exit 1), as opposed to the job's surroundings (exit 2). */
class UserCodeFailure {
  constructor(readonly error: unknown) {}
}

/** What is known of the job so far: a failure or a signal writes its record once the entry is read. */
interface JobState {
  args?: AgentArgs
  io?: ScratchIo
  entry?: JobEntry
}

/** How long a record written on the way out (after SIGTERM) may take. */
const CANCEL_WRITE_MS = 5_000
/** How long the task body may take to stop once its signal aborted, before the agent exits anyway. */
const BODY_STOP_MS = 2_000

const noop = () => undefined

/**
 * Runs one job and resolves to the agent's exit code. Never rejects.
 *
 * @example
 * process.exit(await runAgent({ argv: process.argv.slice(2), env: process.env, kernel }))
 */
export async function runAgent(context: AgentContext): Promise<ExitCode> {
  const capture = captureOutput()
  const termination = watchTermination()
  const job: JobState = {}
  const abort = new AbortController()
  const unsettled = neverSettles()
  try {
    const running = prepareAndRun(context, job, abort.signal)
    const outcome = await Promise.race([running, termination.signaled.then((signal) => ({ signal })), unsettled.rejected])
    if ("signal" in outcome) {
      const stopped = cancelled(job, outcome.signal, capture, abort)
      // The body sees its signal abort (script() ends its command): give it a moment to stop.
      await atMost(running.then(noop, noop), BODY_STOP_MS).catch(noop)
      return await stopped
    }
    const { args, io, entry } = job as Required<JobState>
    if (outcome.result === undefined) return AGENT_EXIT.done
    await io.write(scratch.output(args.scratch, entry.evalHash), outcome.result)
    await io.remove(scratch.error(args.scratch, entry.evalHash))
    await writeLog(io, args.scratch, entry.evalHash, capture.text())
    return AGENT_EXIT.done
  } catch (thrown) {
    return await failed(job, thrown, capture)
  } finally {
    unsettled.dispose()
    termination.dispose()
    capture.stop()
  }
}

/**
 * Rejects when the event loop empties while the task is pending: its promise can never settle
 * (a `new Promise` whose resolve nobody will call), and Node would exit 13 without a record.
 */
function neverSettles(): { rejected: Promise<never>; dispose(): void } {
  let listener: () => void = noop
  const rejected = new Promise<never>((_, reject) => {
    listener = () => {
      const error = new ReductioError(
        "TASK_FAILED",
        "the task's promise never settled: nothing was left for it to wait on (a Promise whose resolve or reject is never called)",
      )
      reject(new UserCodeFailure(error))
    }
    process.once("beforeExit", listener)
  })
  // A worker (serve.ts) runs many jobs in one process: each removes its listener when it ends.
  return { rejected, dispose: () => process.off("beforeExit", listener) }
}

/** Reads the entry and runs its task; `result` is undefined when a valid output exists already. */
async function prepareAndRun(context: AgentContext, job: JobState, signal: AbortSignal): Promise<{ result: Uint8Array | undefined }> {
  const args = parseAgentArgs(context.argv, context.env)
  job.args = args
  const io = await scratchIoFor(args.scratch)
  job.io = io
  const entry = await readEntry(args)
  job.entry = entry
  if (await hasValidOutput(io, args.scratch, entry.evalHash)) {
    console.error(`reductio agent: ${entry.task} (${entry.evalHash.slice(0, 12)}) already has an output; skipping`)
    return { result: undefined }
  }
  return { result: await runTask(args, entry, context.kernel, signal) }
}

/** Writes the error record (when the entry was read) and returns the exit code of the failure. */
async function failed(job: JobState, thrown: unknown, capture: LogCapture): Promise<ExitCode> {
  const userFailure = thrown instanceof UserCodeFailure
  const error = userFailure ? thrown.error : thrown
  const exit = userFailure ? AGENT_EXIT.taskFailed : AGENT_EXIT.infrastructure
  if (!userFailure || !(error instanceof Error)) console.error(`reductio agent: ${describe(error)}`)
  else console.error(`reductio agent: task ${job.entry?.task} failed: ${error.stack ?? error.message}`)
  const { args, io, entry } = job
  if (args === undefined || io === undefined || entry === undefined)
    return exit === AGENT_EXIT.taskFailed ? AGENT_EXIT.infrastructure : exit
  try {
    await io.write(scratch.error(args.scratch, entry.evalHash), encode(toErrorRecord(error), "error"))
    await writeLog(io, args.scratch, entry.evalHash, capture.text())
  } catch (writeError) {
    console.error(`reductio agent: cannot write the error record: ${describe(writeError)}`)
    return AGENT_EXIT.infrastructure
  }
  return exit
}

/**
 * After SIGTERM or SIGINT: aborts the body's {@link currentSignal}, writes the CANCELLED record
 * (when the entry was read, within a few seconds) and resolves to exit 143.
 */
async function cancelled(job: JobState, signal: NodeJS.Signals, capture: LogCapture, abort: AbortController): Promise<ExitCode> {
  const { args, io, entry } = job
  const subject = entry === undefined ? "the job" : `task ${entry.task} (${entry.evalHash.slice(0, 12)})`
  const error = new ReductioError("CANCELLED", `the agent received ${signal} and stopped ${subject}`, { details: { signal } })
  abort.abort(error)
  console.error(`reductio agent: ${error.message}`)
  if (args !== undefined && io !== undefined && entry !== undefined) {
    const record = encode(toErrorRecord(error), "error")
    const writes = (async () => {
      await io.write(scratch.error(args.scratch, entry.evalHash), record)
      await writeLog(io, args.scratch, entry.evalHash, capture.text())
    })()
    await atMost(writes, CANCEL_WRITE_MS).catch((writeError) => {
      console.error(`reductio agent: cannot write the error record: ${describe(writeError)}`)
    })
  }
  return AGENT_EXIT.cancelled
}

/**
 * The job's entry. An array child reads its slot, then its entry, by Range (two small requests);
 * an input that holds no slot there (protocol 1, one encoded list) is read whole.
 */
async function readEntry(args: AgentArgs): Promise<JobEntry> {
  const io = await scratchIoFor(args.input)
  const missing = () => new ReductioError("FILE_NOT_FOUND", `no job input at ${args.input}`, { details: { uri: args.input } })
  const index = args.index
  if (index !== undefined) {
    const range = arraySlotRange(index)
    // A range past the end of a short protocol 1 input may be refused (416): read it whole then.
    const slotBytes = await io.readRange(args.input, range.start, range.end).catch((error: unknown) => {
      if (isReductioError(error, "FILE_NOT_FOUND")) throw error
      return new Uint8Array(0)
    })
    if (slotBytes === undefined) throw missing()
    const slot = decodeArraySlot(slotBytes, index)
    if (slot !== undefined) {
      const bytes = await io.readRange(args.input, slot.offset, slot.offset + slot.length - 1)
      if (bytes === undefined) throw missing()
      return decodeArrayEntry(bytes, slot, index)
    }
  }
  const bytes = await io.read(args.input)
  if (bytes === undefined) throw missing()
  return index === undefined ? decodeEntry(bytes) : decodeArrayInput(bytes, index)
}

async function hasValidOutput(io: ScratchIo, root: string, evalHash: string): Promise<boolean> {
  const bytes = await io.read(scratch.output(root, evalHash))
  if (bytes === undefined) return false
  try {
    decode(bytes)
    return true
  } catch {
    return false
  }
}

/** Loads the bundle, runs the task once and returns its encoded result. User-code errors become UserCodeFailure. */
async function runTask(args: AgentArgs, entry: JobEntry, kernel: Record<string, unknown>, signal: AbortSignal): Promise<Uint8Array> {
  const code = await loadCode(args.code, await scratchIoFor(args.code), await privateWorkDir(args.workdir), kernel, args.limits)
  installKernel(kernel)
  // Remote stacks then point at the workflow's TypeScript sources (the bundle carries a source map).
  process.setSourceMapsEnabled(true)
  try {
    await import(pathToFileURL(code.entry).href)
  } catch (error) {
    throw new UserCodeFailure(
      new ReductioError("WORKFLOW_LOAD_FAILED", `the workflow bundle threw while loading: ${describe(error)}`, { cause: error }),
    )
  }
  const context = checkedTaskContext(entry.context)
  try {
    const definition = lookupTask(entry.task)
    const fn = definition.fn as (...args: unknown[]) => unknown
    const result: unknown = await runWithContext(context, () => callWithSignal(signal, () => fn(...entry.args)))
    await prepareForEncoding(result)
    return encode(result, "result")
  } catch (error) {
    throw new UserCodeFailure(error)
  }
}

async function writeLog(io: ScratchIo, root: string, evalHash: string, text: string): Promise<void> {
  await io.write(scratch.log(root, evalHash), text)
}

function describe(error: unknown): string {
  if (isReductioError(error)) return `[${error.code}] ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
