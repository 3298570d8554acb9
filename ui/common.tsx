/** Small pieces every view uses: status badges, count bars, hashes, errors, loading states. */
import type { ComponentChildren } from "preact"
import type { ApiError, Loaded } from "./api.js"
import { STATUS_ORDER } from "./format.js"
import type { StatusCounts } from "./types.js"

export function Status({ status }: { status: string }) {
  return <span class={`status status-${status.toLowerCase()}`}>{status}</span>
}

export function Hash({ value, length = 12 }: { value: string | null | undefined; length?: number }) {
  if (!value) return <span class="muted">–</span>
  return (
    <code class="hash" title={value}>
      {value.slice(0, length)}
    </code>
  )
}

/** A stacked bar of jobs by status. */
export function CountsBar({ counts, total }: { counts: StatusCounts; total: number }) {
  if (total === 0) return <div class="bar bar-empty" />
  return (
    <div
      class="bar"
      title={STATUS_ORDER.filter((s) => counts[s])
        .map((s) => `${counts[s]} ${s}`)
        .join(", ")}
    >
      {STATUS_ORDER.filter((s) => (counts[s] ?? 0) > 0).map((s) => (
        <span key={s} class={`bar-part fill-${s.toLowerCase()}`} style={{ width: `${((counts[s] ?? 0) / total) * 100}%` }} />
      ))}
    </div>
  )
}

export function ErrorBanner({ error }: { error: Pick<ApiError, "code" | "message"> }) {
  return (
    <div class="error-banner" role="alert">
      <strong>{error.code}</strong> {error.message}
    </div>
  )
}

/** Renders `children(data)` once loaded; a message while loading or on error. */
export function Loading<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (loaded.data !== undefined) {
    return (
      <>
        {loaded.error && <ErrorBanner error={loaded.error} />}
        {children(loaded.data)}
      </>
    )
  }
  if (loaded.error !== undefined) return <ErrorBanner error={loaded.error} />
  return <p class="muted loading">Loading…</p>
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={id}>
      <h2>{title}</h2>
      {children}
    </section>
  )
}
