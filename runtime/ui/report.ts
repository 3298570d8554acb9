/**
 * @module report
 * `reductio report`: one execution's views as one HTML file. The page is the UI's own, with the
 * API answers its views ask for embedded (the execution, its graph and timeline, its tasks, and
 * job pages: failed ones first, then in sequence order, up to a bound), so it opens from disk.
 */
import type { Backend } from "../backend/backend.js"
import { answerApi } from "./ui-api.js"
import { findExecution } from "./api-executions.js"
import { loadAssets, reportPage } from "./page.js"

export interface ReportOptions {
  /** How many job pages to embed (each a few KB). */
  readonly jobPages: number
}

export async function buildReport(backend: Backend, ref: string, options: ReportOptions) {
  const assets = loadAssets()
  const execution = await findExecution(backend, ref)
  const id = encodeURIComponent(execution.id)
  const answers: Record<string, unknown> = {}
  const ask = async (path: string, query = "") => {
    const answer = await answerApi(backend, path, new URLSearchParams(query))
    if (answer.status === 200) answers[query === "" ? path : `${path}?${query}`] = answer.body
    return answer
  }
  const detail = (await ask(`/api/executions/${id}`)).body as { execution: unknown }
  await ask(`/api/executions/${id}/timeline`)
  answers["/api/executions"] = { executions: [detail.execution], limit: 1, offset: 0, more: false, report: true }
  const jobs = await backend.listJobs(execution.id)
  const failed = jobs.filter((job) => job.status === "FAILED")
  const chosen = [...new Set([...failed, ...jobs].map((job) => job.seq))].slice(0, options.jobPages)
  for (const seq of chosen) await ask(`/api/jobs/${id}/${seq}`)
  for (const task of new Set(jobs.map((job) => job.taskName))) await ask(`/api/tasks/${encodeURIComponent(task)}`)
  return { text: reportPage(assets, answers, `#/executions/${id}`), executionId: execution.id, jobPages: chosen.length }
}
