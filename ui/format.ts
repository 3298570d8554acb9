/** How the page writes times, durations and statuses. */
export const STATUS_ORDER = ["PENDING", "RUNNING", "WAITING", "FAILED", "CANCELLED", "ABANDONED", "CACHED", "DONE"] as const

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–"
  if (ms < 1000) return `${Math.round(ms)} ms`
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} m ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} m`
}

export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–"
  const date = new Date(ms)
  return `${date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })} ${date.toLocaleTimeString(undefined, { hour12: false })}`
}

export function shortHash(hash: string | null | undefined, length = 12): string {
  return hash ? hash.slice(0, length) : "–"
}
