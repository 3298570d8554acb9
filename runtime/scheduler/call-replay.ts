/**
 * @module call-replay
 * Call replay (redun's call caching): a cached call whose recorded call tree is replayable and
 * whose every call still runs the task version it recorded takes the tree's final value at once,
 * with no job for the calls below it. See docs/architecture.md, "Call replay".
 */
import type { Backend } from "../backend/backend.js"
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
}

/** How many recorded values a replay checks at once (each may stat a file or ask S3). */
const CHECK_WINDOW = 1000

/**
 * Replays the recorded tree under `callHash` for `job`: its final value, with the reused calls
 * counted on the job and announced in a `reused-calls` event. Every value in the tree that holds
 * a File is checked first, as a cache hit on its call would be. Undefined when the tree cannot
 * be reused (not recorded whole, a task below edited or now `cache: false`, a File that changed);
 * the job then reduces its children one by one.
 */
export async function replayCallTree(
  job: JobState,
  callHash: string,
  context: ReplayContext,
): Promise<{ value: unknown; checked: boolean } | undefined> {
  const tree = await context.backend.loadCallTree?.(callHash)
  if (tree === undefined) return undefined
  const calls: Record<string, number> = {}
  let total = 0
  for (const [taskHash, count] of tree.callsByTask) {
    const current = taskByHash(taskHash)
    if (current === undefined || current.options.cache === false) return undefined
    calls[current.name] = (calls[current.name] ?? 0) + count
    total += count
  }
  const below = await mapWindowed(tree.checkedValues, CHECK_WINDOW, async (bytes) => decodeIfValid(bytes))
  if (below.includes(INVALID)) return undefined
  const decoded = await decodeIfValid(tree.bytes)
  if (decoded === INVALID) return undefined
  context.recorder.knownValue(tree.valueHash)
  job.reusedCalls = total
  context.emit({ type: "reused-calls", executionId: context.executionId, seq: job.seq, task: job.task.name, calls })
  return { value: decoded.value, checked: decoded.checked || below.some((value) => value !== INVALID && value.checked) }
}

let tasksByHash = new Map<string, TaskDefinition>()

/** The registered task with this hash: the version the workflow runs now. */
function taskByHash(hash: string): TaskDefinition | undefined {
  const registered = registeredTasks()
  // Tasks can register late (a module imported inside a body): rebuild when the count moved.
  if (tasksByHash.size !== registered.size) {
    tasksByHash = new Map([...registered.values()].map((definition) => [definition.hash, definition]))
  }
  return tasksByHash.get(hash)
}
