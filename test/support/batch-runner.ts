/**
 * @module batch-runner
 * A fast child runner for the test Batch endpoint: instead of starting `node agent.js` per child
 * (hundreds of milliseconds each), it speaks the agent's protocol in the endpoint's own process:
 * reads the job input from scratch (S3), picks the entry by `AWS_BATCH_JOB_ARRAY_INDEX`, runs the
 * task function registered in this process, and writes the output or error record and a log.
 * Exit codes follow the agent's (0 done, 1 task failed, 2 infrastructure). Shortcuts, as a fast mode:
 * an input is read and decoded once per runner (a real child does both once per container), the check for an
 * existing output can be skipped. Use it for large
 * fan-outs and the bench; keep the real agent (the default runner) for what the container does.
 */
import { decode, encode, prepareForEncoding } from "../../runtime/codec.js"
import { toErrorRecord } from "../../runtime/errors.js"
import { AGENT_EXIT, decodeArrayInput, decodeEntry, scratch } from "../../runtime/protocol.js"
import { storageFor } from "../../runtime/storage/storage-registry.js"
import { lookupTask } from "../../runtime/task.js"
import { callWithSignal } from "../../runtime/task-context.js"
import type { ChildRunner } from "./batch-endpoint.js"

/** Options of {@link inProcessRunner}. */
export interface InProcessRunnerOptions {
  /** Skip writing the log object (one S3 PUT fewer per child). Default false. */
  readonly skipLog?: boolean
  /** Look for an existing output first, as the agent does (one S3 GET per child). Default true. */
  readonly checkExisting?: boolean
}

/** Runs children in this process with the agent's protocol (see the module comment). */
export function inProcessRunner(options: InProcessRunnerOptions = {}): ChildRunner {
  const inputs = new Map<string, Promise<Uint8Array>>()
  return (spec) => {
    let killed: (() => void) | undefined
    const stopped = new Promise<{ code: number | null; output: string }>((resolve) => {
      killed = () => resolve({ code: null, output: "killed" })
    })
    const run = async (): Promise<{ code: number | null; output: string }> => {
      const flag = (name: string) => spec.argv[spec.argv.indexOf(name) + 1] as string
      const root = flag("--scratch")
      const input = flag("--input")
      const storage = await storageFor(root)
      let evalHash: string | undefined
      try {
        const indexText = spec.env.AWS_BATCH_JOB_ARRAY_INDEX
        let entries = inputs.get(input)
        if (entries === undefined) {
          entries = storage.readBytes(input)
          entries.catch(() => inputs.delete(input))
          inputs.set(input, entries)
        }
        const entry = pickEntry(await entries, indexText === undefined ? undefined : Number(indexText))
        evalHash = entry.evalHash
        const existing =
          options.checkExisting === false ? undefined : await storage.readBytes(scratch.output(root, entry.evalHash)).catch(() => undefined)
        if (existing !== undefined) {
          decode(existing)
          return { code: AGENT_EXIT.done, output: "already done" }
        }
        let result: unknown
        try {
          const fn = lookupTask(entry.task).fn as (...args: unknown[]) => unknown
          // As in the agent, whose job ends with its process: a signal that never aborts.
          result = await callWithSignal(new AbortController().signal, () => fn(...entry.args))
          await prepareForEncoding(result)
        } catch (error) {
          await storage.writeBytes(scratch.error(root, entry.evalHash), encode(toErrorRecord(error), "error"))
          return { code: AGENT_EXIT.taskFailed, output: String(error) }
        }
        await storage.writeBytes(scratch.output(root, entry.evalHash), encode(result, "result"))
        if (options.skipLog !== true) await storage.writeBytes(scratch.log(root, entry.evalHash), `ran ${entry.task}\n`)
        return { code: AGENT_EXIT.done, output: "" }
      } catch (error) {
        return { code: AGENT_EXIT.infrastructure, output: `${evalHash ?? "?"}: ${String(error)}` }
      }
    }
    return { exit: Promise.race([run(), stopped]), kill: () => killed?.() }
  }
}

/** The entry at `index` of an input (either array layout), checked as the agent checks it. */
function pickEntry(bytes: Uint8Array, index: number | undefined) {
  return index === undefined ? decodeEntry(bytes) : decodeArrayInput(bytes, index)
}
