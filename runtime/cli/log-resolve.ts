/**
 * @module log-resolve
 * What `reductio log <ref>` names: `-` (the latest execution), an execution id or prefix,
 * `<execution>/<seq>` (one job), or an eval-hash prefix (the newest job of that call). A prefix
 * that matches several is AMBIGUOUS_PREFIX listing the candidates; one that matches nothing is
 * NOT_FOUND.
 */
import type { Backend, ExecutionView, JobView } from "../backend/backend.js"
import { ReductioError } from "../errors.js"

/** What a ref resolved to. */
export type Resolved =
  | { readonly kind: "execution"; readonly execution: ExecutionView }
  | { readonly kind: "job"; readonly job: JobView; readonly others: readonly JobView[] }

/** Longest ref accepted: an execution id with a seq, or a whole eval hash. */
const MAX_REF = 128
const HEX = /^[0-9a-f]{1,64}$/
/** Candidates an ambiguity error lists. */
const CANDIDATES = 10

export async function resolveRef(backend: Backend, ref: string): Promise<Resolved> {
  if (ref.length === 0 || ref.length > MAX_REF || [...ref].some((c) => c <= " ")) {
    throw new ReductioError("INVALID_ARGUMENT", `not an execution id, job or eval hash prefix: ${JSON.stringify(ref.slice(0, 80))}`)
  }
  if (ref === "-") return { kind: "execution", execution: await latestExecution(backend) }
  const slash = ref.lastIndexOf("/")
  if (slash > 0) return resolveJob(backend, ref.slice(0, slash), ref.slice(slash + 1))
  const executions = await backend.listExecutions({ idPrefix: ref, limit: CANDIDATES + 1 })
  const exact = executions.find((execution) => execution.id === ref)
  if (exact !== undefined) return { kind: "execution", execution: exact }
  const jobs = HEX.test(ref) && backend.findJobs !== undefined ? await backend.findJobs({ evalHashPrefix: ref, limit: 200 }) : []
  const evalHashes = [...new Set(jobs.map((job) => job.evalHash))]
  const candidates = [
    ...executions.map((e) => `execution ${e.id}  ${e.status}  ${e.command}`),
    ...evalHashes.map((hash) => {
      const job = jobs.find((j) => j.evalHash === hash) as JobView
      return `call ${hash.slice(0, 16)}  ${job.taskName}  ${job.status}  (job ${job.executionId}/${job.seq})`
    }),
  ]
  if (candidates.length > 1) {
    const shown = candidates.slice(0, CANDIDATES)
    const more = candidates.length > CANDIDATES || jobs.length >= 200 ? "\n  … and more" : ""
    throw new ReductioError("AMBIGUOUS_PREFIX", `"${ref}" matches several; give more of it:\n  ${shown.join("\n  ")}${more}`, {
      details: { candidates: shown },
    })
  }
  const [execution] = executions
  if (execution !== undefined) return { kind: "execution", execution }
  const [job, ...others] = jobs
  if (job !== undefined) return { kind: "job", job, others }
  throw new ReductioError("NOT_FOUND", `no execution or call matches "${ref}" in ${backend.description}; reductio log lists the executions`)
}

/** The most recent execution. */
export async function latestExecution(backend: Backend): Promise<ExecutionView> {
  const [latest] = await backend.listExecutions({ limit: 1 })
  if (latest === undefined) throw new ReductioError("NOT_FOUND", `no executions recorded in ${backend.description}`)
  return latest
}

/** An execution by id or prefix (`-` the latest), AMBIGUOUS_PREFIX or NOT_FOUND otherwise. */
export async function resolveExecution(backend: Backend, ref: string): Promise<ExecutionView> {
  if (ref === "-") return latestExecution(backend)
  const found = await resolveRef(backend, ref)
  if (found.kind === "execution") return found.execution
  throw new ReductioError("NOT_FOUND", `"${ref}" names a call, not an execution; reductio log lists the executions`)
}

async function resolveJob(backend: Backend, executionRef: string, seqText: string): Promise<Resolved> {
  const seq = Number(seqText)
  if (!/^[1-9]\d{0,9}$/.test(seqText) || !Number.isSafeInteger(seq)) {
    throw new ReductioError("INVALID_ARGUMENT", `a job is <execution>/<seq> with seq a positive integer (got ${JSON.stringify(seqText)})`)
  }
  const execution = await resolveExecution(backend, executionRef)
  const [job] =
    (await backend.findJobs?.({ executionId: execution.id, seq })) ?? (await backend.listJobs(execution.id)).filter((j) => j.seq === seq)
  if (job === undefined) throw new ReductioError("NOT_FOUND", `execution ${execution.id} has no job ${seq}`)
  return { kind: "job", job, others: [] }
}
