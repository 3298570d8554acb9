/**
 * The page's one way to its data: the JSON API of `reductio ui` (docs/ui-api.md), or, in a page
 * written by `reductio report`, the answers embedded in it.
 */
import { useEffect, useRef, useState } from "preact/hooks"

interface ReportData {
  readonly start: string
  readonly answers: Readonly<Record<string, unknown>>
}

const embedded = typeof document === "undefined" ? null : document.getElementById("reductio-report")
/** The embedded answers when this page is a report, else undefined. */
export const report: ReportData | undefined = embedded?.textContent ? (JSON.parse(embedded.textContent) as ReportData) : undefined

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

export async function getJson<T>(path: string): Promise<T> {
  if (report !== undefined) {
    const answer = report.answers[path]
    if (answer === undefined) throw new ApiError("NOT_IN_REPORT", "this view is not included in the report; open it with reductio ui", 404)
    return answer as T
  }
  const response = await fetch(path, { headers: { accept: "application/json" } })
  const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined
  if (!response.ok)
    throw new ApiError(body?.error?.code ?? "HTTP_ERROR", body?.error?.message ?? `HTTP ${response.status}`, response.status)
  return body as T
}

export interface Loaded<T> {
  readonly data: T | undefined
  readonly error: ApiError | undefined
}

/**
 * Loads `path`, again every `pollMs` while `live(data)` holds (a running execution): at most once a
 * second, and never while a request is still out.
 */
export function useApi<T>(path: string | null, live?: (data: T) => boolean, pollMs = 1000): Loaded<T> {
  const [state, setState] = useState<Loaded<T> & { path: string | null }>({ data: undefined, error: undefined, path })
  const liveRef = useRef(live)
  liveRef.current = live
  useEffect(() => {
    if (path === null) return
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async () => {
      try {
        const data = await getJson<T>(path)
        if (stopped) return
        setState({ data, error: undefined, path })
        if (report === undefined && liveRef.current?.(data)) timer = setTimeout(load, Math.max(1000, pollMs))
      } catch (error) {
        if (stopped) return
        setState((old) => ({ data: old.path === path ? old.data : undefined, error: error as ApiError, path }))
      }
    }
    void load()
    return () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [path, pollMs])
  return state.path === path ? state : { data: undefined, error: undefined }
}
