/**
 * @module ui-api
 * The JSON API under `/api/` that every view of `reductio ui` (and `reductio report`) reads; see
 * docs/ui-api.md. One function answers a path and query with a status and a JSON body, so the
 * server, the report and the tests share it. Errors are `{ error: { code, message } }`: 400 for a
 * bad parameter (INVALID_ARGUMENT, AMBIGUOUS_PREFIX), 404 for NOT_FOUND, 500 otherwise.
 */
import type { Backend } from "../backend/backend.js"
import { isReductioError, ReductioError } from "../errors.js"
import { executionJobsView, executionView, listExecutionsView, timelineView } from "./api-executions.js"
import { fileView, jobView, taskView } from "./api-job.js"
import { checkedText, decodeSegment, executionRef, pathParam, seqOf } from "./api-params.js"

/** An answer of the API. */
export interface ApiResponse {
  readonly status: number
  readonly body: unknown
}

/** Answers `GET <path>?<query>` (the path after the origin, starting with `/api/`). */
export async function answerApi(backend: Backend, path: string, params: URLSearchParams): Promise<ApiResponse> {
  try {
    return { status: 200, body: await route(backend, path, params) }
  } catch (error) {
    return errorResponse(error)
  }
}

async function route(backend: Backend, path: string, params: URLSearchParams): Promise<unknown> {
  const segments = path
    .replace(/^\/api\/?/, "")
    .split("/")
    .filter((segment) => segment !== "")
    .map(decodeSegment)
  const [resource, first, second, third] = segments
  if (segments.length > 4) throw notFound(path)
  switch (resource) {
    case "executions":
      if (first === undefined) return listExecutionsView(backend, params)
      if (second === undefined) return executionView(backend, executionRef(first), params)
      if (third !== undefined) break
      if (second === "timeline") return timelineView(backend, executionRef(first))
      if (second === "jobs") return executionJobsView(backend, executionRef(first), params)
      break
    case "jobs":
      if (first !== undefined && second !== undefined && third === undefined) return jobView(backend, executionRef(first), seqOf(second))
      break
    case "files":
      if (first === undefined) return fileView(backend, pathParam(params))
      break
    case "tasks":
      if (first !== undefined && second === undefined) return taskView(backend, checkedText("task name", first))
      break
  }
  throw notFound(path)
}

function notFound(path: string): ReductioError {
  return new ReductioError("NOT_FOUND", `no API route ${JSON.stringify(path.slice(0, 200))}; see docs/ui-api.md`)
}

/** The JSON error answer for `error`. */
export function errorResponse(error: unknown): ApiResponse {
  if (isReductioError(error)) {
    const status = error.code === "NOT_FOUND" ? 404 : error.code === "INVALID_ARGUMENT" || error.code === "AMBIGUOUS_PREFIX" ? 400 : 500
    const details = (error as { details?: unknown }).details
    return { status, body: { error: { code: error.code, message: error.message, ...(details === undefined ? {} : { details }) } } }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { status: 500, body: { error: { code: "INTERNAL", message } } }
}
