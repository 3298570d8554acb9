/**
 * @module call-replay
 * Call replay (redun's call caching): a cached call whose recorded call tree still holds takes
 * the tree's final value at once, with no job for the calls below it. "Still holds" means what
 * reducing the tree call by call would find: every call below runs the task version it recorded
 * and is cacheable, its cache entry still names the recorded call (no later run replaced it) and
 * allows replay, an identical call already started in this execution reduced to the same call,
 * and every File in the tree still validates. See docs/architecture.md, "Call replay".
 */
import type { Backend, CallTree, TreeCall } from "../backend/backend.js"
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
  /** The call with this eval hash already started in this execution, if one did. */
  readonly inFlight: (evalHash: string) => Promise<{ readonly callHash: string }> | undefined
  /** Whether the call with this eval hash was started in this execution (and not yet forgotten). */
  readonly startedHere: (evalHash: string) => boolean
  /** The eval hash of a call of `task` with `argsHash` in this run (with the context it reads). */
  readonly evalHashOf: (task: TaskDefinition, argsHash: string) => string
  /** The run turns caching off for this task (`-o task=cache=false`). */
  readonly cacheDisabled: (task: TaskDefinition) => boolean
  /** The execution's index of registered tasks by hash. */
  readonly tasks: TaskIndex
  /** Recorded calls known not to hold in this execution: no replay is tried at or above them. */
  readonly broken: Set<string>
  /** Eval hashes of calls a replay reused: later identical calls take them from the cache. */
  readonly reused: Set<string>
}

type Edges = Awaited<ReturnType<CallTree["edges"]>>

/** How many recorded values a replay checks at once (each may stat a file or ask S3). */
const CHECK_WINDOW = 1000

/**
 * Replays the recorded tree under `callHash` for `job`: its final value, with the reused calls
 * counted on the job and announced in a `reused-calls` event. Undefined when the tree does not
 * hold (see the module comment); the job then reduces its children one by one. The calls found
 * not to hold, and every call above them, are remembered, so the children whose subtrees still
 * hold replay and the others do not ask again (a deep chain stays linear). A File that changed
 * cannot be placed in the tree: then no job below this one tries a replay. `uncheckedRoot`: the
 * root's cached value has not been decoded and checked, so a root that holds a File (or may) is
 * not replayed here.
 */
export async function replayCallTree(
  job: JobState,
  callHash: string,
  context: ReplayContext,
  options: { uncheckedRoot?: boolean } = {},
): Promise<{ value: unknown; checked: boolean } | undefined> {
  if (context.broken.has(callHash)) return undefined
  const tree = await context.backend.loadCallTree?.(callHash)
  if (tree === undefined) return undefined
  // Tried before the root's own cached value was decoded and checked: only a root known to hold
  // nothing to check (a backend that does not say is taken to), and calls below it (bytes that
  // only looked as if they named calls name none).
  if (options.uncheckedRoot === true && (tree.rootChecked !== false || tree.calls.length === 0)) return undefined
  const counts: Record<string, number> = {}
  const evalHashes: string[] = []
  const failing = new Set<string>()
  for (const call of tree.calls) {
    const current = context.tasks.byHash(call.taskHash)
    if (current === undefined || current.options.cache === false || context.cacheDisabled(current)) failing.add(call.callHash)
    else counts[current.name] = (counts[current.name] ?? 0) + 1
    // A call of a task that reads context is looked up with this run's values: changed ones miss.
    evalHashes.push(current === undefined ? evalHashOf(call.taskHash, call.argsHash) : context.evalHashOf(current, call.argsHash))
  }
  // The latest cache entry of each call must still name it, as a lookup call by call would find.
  for (const i of await unreplayable(context.backend, tree.calls, evalHashes)) failing.add((tree.calls[i] as TreeCall).callHash)
  // An identical call already started in this execution shares its result: it must have reduced
  // to this same call. Waited for only once everything else holds, and from the root down,
  // stopping at the first that differs: call by call would not have reached the ones below it.
  if (failing.size === 0 && anyInFlight(evalHashes, context)) {
    const evalHashOfCall = new Map(tree.calls.map((call, i) => [call.callHash, evalHashes[i] as string]))
    for (const call of topDown(callHash, await tree.edges())) {
      const running = context.inFlight(evalHashOfCall.get(call) as string)
      if (running !== undefined && (await settledCallHash(running)) !== call) {
        failing.add(call)
        break
      }
    }
  }
  if (failing.size > 0) {
    markBroken(callHash, await tree.edges(), failing, context.broken)
    return undefined
  }
  const below = await mapWindowed(tree.checkedValues, CHECK_WINDOW, async (bytes) => decodeIfValid(bytes))
  const decoded = below.includes(INVALID) ? INVALID : await decodeIfValid(tree.bytes)
  if (decoded === INVALID) {
    job.noReplay = true
    return undefined
  }
  if (tree.valueInCall !== true) context.recorder.knownValue(tree.valueHash)
  for (const evalHash of evalHashes) context.reused.add(evalHash)
  job.reusedCalls = tree.calls.length
  context.emit({ type: "reused-calls", executionId: context.executionId, seq: job.seq, task: job.task.name, calls: counts })
  return { value: decoded.value, checked: decoded.checked || below.some((value) => value !== INVALID && value.checked) }
}

/** Whether some call of the tree was started in this execution (a rerun's root: none but itself). */
function anyInFlight(evalHashes: readonly string[], context: ReplayContext): boolean {
  return evalHashes.some(context.startedHere)
}

/** The calls below `root`, each after every call above it on some path (breadth first). */
function topDown(root: string, edges: Edges): string[] {
  const children = new Map<string, string[]>()
  for (const [parent, child] of edges) {
    const list = children.get(parent)
    if (list === undefined) children.set(parent, [child])
    else list.push(child)
  }
  const order: string[] = []
  const seen = new Set([root])
  for (let queue = [root], i = 0; i < queue.length; i++) {
    for (const child of children.get(queue[i] as string) ?? []) {
      if (seen.has(child)) continue
      seen.add(child)
      queue.push(child)
      order.push(child)
    }
  }
  return order
}

/** The call hash a started call reduced to; undefined when it failed. */
function settledCallHash(running: Promise<{ readonly callHash: string }>): Promise<string | undefined> {
  return running.then(
    (done) => done.callHash,
    () => undefined,
  )
}

/** The indexes of the calls whose cache entry does not name them (or allow replay): see Backend.unreplayableCalls. */
async function unreplayable(backend: Backend, calls: readonly TreeCall[], evalHashes: readonly string[]): Promise<Iterable<number>> {
  if (calls.length === 0) return []
  if (backend.unreplayableCalls !== undefined)
    return backend.unreplayableCalls(calls.map((call, i) => ({ evalHash: evalHashes[i] as string, callHash: call.callHash })))
  const found = await backend.loadEvaluations(evalHashes)
  const failing: number[] = []
  calls.forEach((call, i) => {
    const entry = found.get(evalHashes[i] as string)
    if (entry?.callHash !== call.callHash || entry.replayable !== true) failing.push(i)
  })
  return failing
}

/** Adds the failing calls and every call above them, up to `root`, to `broken`. */
function markBroken(root: string, edges: Edges, failing: ReadonlySet<string>, broken: Set<string>): void {
  const parents = new Map<string, string[]>()
  for (const [parent, child] of edges) {
    const list = parents.get(child)
    if (list === undefined) parents.set(child, [parent])
    else list.push(parent)
  }
  const stack = [...failing]
  while (stack.length > 0) {
    const call = stack.pop() as string
    if (broken.has(call)) continue
    broken.add(call)
    for (const parent of parents.get(call) ?? []) stack.push(parent)
  }
  broken.add(root)
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
