/**
 * @module call-replay
 * Call replay (redun's call caching): a cached call whose recorded call tree still holds takes
 * the tree's final value at once, with no job for the calls below it. "Still holds" means what
 * reducing the tree call by call would find: every call below runs the task version it recorded
 * and is cacheable, its cache entry still names the recorded call (no later run replaced it) and
 * allows replay, no identical call is running in this execution, and every File in the tree still
 * validates. See docs/architecture.md, "Call replay".
 */
import type { Backend } from "../backend/backend.js"
import { evalHashOf } from "../hashing.js"
import { registeredTasks, type TaskDefinition } from "../task.js"
import { decodeIfValid, INVALID } from "./cached-value.js"
import type { SchedulerEvent } from "./events.js"
import type { JobState } from "./job-state.js"
import type { Recorder } from "./recorder.js"
import { mapWindowed } from "./values.js"

/** What a replay needs from its execution. */
export interface ReplayContext {
  readonly executionId: string
  readonly backend: Backend
  readonly recorder: Recorder
  readonly emit: (event: SchedulerEvent) => void
  /** True when a call with this eval hash is already being reduced in this execution. */
  readonly inFlight: (evalHash: string) => boolean
  /** The execution's index of registered tasks by hash. */
  readonly tasks: TaskIndex
}

/** How many recorded values a replay checks at once (each may stat a file or ask S3). */
const CHECK_WINDOW = 1000

/**
 * Replays the recorded tree under `callHash` for `job`: its final value, with the reused calls
 * counted on the job and announced in a `reused-calls` event. Undefined when the tree does not
 * hold (see the module comment); the job then reduces its children one by one.
 */
export async function replayCallTree(
  job: JobState,
  callHash: string,
  context: ReplayContext,
): Promise<{ value: unknown; checked: boolean } | undefined> {
  const tree = await context.backend.loadCallTree?.(callHash)
  if (tree === undefined) return undefined
  const counts: Record<string, number> = {}
  const evalHashes: string[] = []
  for (const call of tree.calls) {
    const current = context.tasks.byHash(call.taskHash)
    if (current === undefined || current.options.cache === false) return undefined
    counts[current.name] = (counts[current.name] ?? 0) + 1
    const evalHash = evalHashOf(call.taskHash, call.argsHash)
    if (context.inFlight(evalHash)) return undefined
    evalHashes.push(evalHash)
  }
  if (evalHashes.length > 0) {
    const entries = await context.backend.loadEvaluations(evalHashes)
    for (const [i, call] of tree.calls.entries()) {
      const entry = entries.get(evalHashes[i] as string)
      if (entry?.callHash !== call.callHash || entry.replayable !== true) return undefined
    }
  }
  const below = await mapWindowed(tree.checkedValues, CHECK_WINDOW, async (bytes) => decodeIfValid(bytes))
  if (below.includes(INVALID)) return undefined
  const decoded = await decodeIfValid(tree.bytes)
  if (decoded === INVALID) return undefined
  context.recorder.knownValue(tree.valueHash)
  job.reusedCalls = tree.calls.length
  context.emit({ type: "reused-calls", executionId: context.executionId, seq: job.seq, task: job.task.name, calls: counts })
  return { value: decoded.value, checked: decoded.checked || below.some((value) => value !== INVALID && value.checked) }
}

/** Registered tasks by hash, for one execution: the versions the workflow runs now. */
export class TaskIndex {
  #byHash = new Map<string, TaskDefinition>()

  byHash(hash: string): TaskDefinition | undefined {
    const registered = registeredTasks()
    // Tasks can register late (a module imported inside a body): rebuild when the count moved.
    if (this.#byHash.size !== registered.size) {
      this.#byHash = new Map([...registered.values()].map((definition) => [definition.hash, definition]))
    }
    return this.#byHash.get(hash)
  }
}
