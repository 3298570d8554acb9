/** Hash routes (they work from a report opened from disk too). */
import { useEffect, useState } from "preact/hooks"

export type Route =
  | { readonly view: "executions"; readonly query: URLSearchParams }
  | { readonly view: "execution"; readonly id: string; readonly query: URLSearchParams }
  | { readonly view: "job"; readonly executionId: string; readonly seq: string }
  | { readonly view: "file"; readonly path: string }
  | { readonly view: "task"; readonly name: string }

export function parseRoute(hash: string): Route {
  const [pathPart = "", queryPart = ""] = hash.replace(/^#/, "").split("?", 2)
  const query = new URLSearchParams(queryPart)
  const segments = pathPart
    .split("/")
    .filter((s) => s !== "")
    .map(safeDecode)
  const [first, second, third] = segments
  if (first === "executions" && second === undefined) return { view: "executions", query }
  if (first === "executions" && second !== undefined) return { view: "execution", id: second, query }
  if (first === "jobs" && second !== undefined && third !== undefined) return { view: "job", executionId: second, seq: third }
  if (first === "files") return { view: "file", path: query.get("path") ?? "" }
  if (first === "tasks" && second !== undefined) return { view: "task", name: second }
  // The start page: the most recent execution.
  return { view: "execution", id: "-", query }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const update = () => setHash(location.hash)
    addEventListener("hashchange", update)
    return () => removeEventListener("hashchange", update)
  }, [])
  return parseRoute(hash)
}

export const href = {
  executions: (query = "") => `#/executions${query === "" ? "" : `?${query}`}`,
  execution: (id: string, query = "") => `#/executions/${encodeURIComponent(id)}${query === "" ? "" : `?${query}`}`,
  job: (executionId: string, seq: number) => `#/jobs/${encodeURIComponent(executionId)}/${seq}`,
  file: (path: string) => `#/files?${new URLSearchParams({ path })}`,
  task: (name: string) => `#/tasks/${encodeURIComponent(name)}`,
}

export const apiPath = {
  executions: (query = "") => `/api/executions${query === "" ? "" : `?${query}`}`,
  execution: (id: string, query = "") => `/api/executions/${encodeURIComponent(id)}${query === "" ? "" : `?${query}`}`,
  timeline: (id: string) => `/api/executions/${encodeURIComponent(id)}/timeline`,
  jobs: (id: string, query: string) => `/api/executions/${encodeURIComponent(id)}/jobs?${query}`,
  job: (executionId: string, seq: string | number) => `/api/jobs/${encodeURIComponent(executionId)}/${seq}`,
  file: (path: string) => `/api/files?${new URLSearchParams({ path })}`,
  task: (name: string) => `/api/tasks/${encodeURIComponent(name)}`,
}
