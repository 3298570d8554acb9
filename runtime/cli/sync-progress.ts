/**
 * @module sync-progress
 * The progress bar of `reductio sync` on a terminal: one line on stderr, redrawn at most ten
 * times a second, with files and bytes done and the rate.
 */
import type { SyncProgress } from "../storage/sync.js"
import type { CliIo } from "./io.js"

const REDRAW_MS = 100
const BAR_WIDTH = 24

/** Bytes for people: `512 B`, `3.2 MB`, `1.1 GB` (powers of 1,000, as `aws s3` prints them). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"]
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * A one-line progress bar.
 *
 * @example
 * const bar = new SyncProgressBar(io)
 * await syncDirectories(a, b, { onProgress: (p) => bar.update(p) })
 * bar.clear()
 */
export class SyncProgressBar {
  readonly #io: CliIo
  #drawnAt = 0
  #drawn = false
  #copyStartedAt: number | undefined

  constructor(io: CliIo) {
    this.#io = io
  }

  update(progress: SyncProgress): void {
    const now = Date.now()
    if (progress.phase === "copying") this.#copyStartedAt ??= now
    const finished = progress.filesDone === progress.filesTotal
    if (now - this.#drawnAt < REDRAW_MS && !finished) return
    this.#drawnAt = now
    this.#drawn = true
    this.#io.err(`\r${this.#line(progress, now)}\u001b[K`)
  }

  /** Removes the bar so the summary starts on a clean line. */
  clear(): void {
    if (this.#drawn) this.#io.err("\r\u001b[K")
    this.#drawn = false
  }

  #line(progress: SyncProgress, now: number): string {
    const { phase, filesDone, filesTotal, bytesDone, bytesTotal } = progress
    if (phase === "listing") return "sync: listing…"
    const fraction = bytesTotal > 0 ? bytesDone / bytesTotal : filesTotal > 0 ? filesDone / filesTotal : 1
    const filled = Math.min(BAR_WIDTH, Math.round(fraction * BAR_WIDTH))
    const bar = `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]`
    const files = `${filesDone}/${filesTotal} files`
    if (phase !== "copying") return `sync: ${phase} ${bar} ${files}`
    const seconds = (now - (this.#copyStartedAt ?? now)) / 1000
    const rate = seconds > 0 ? `  ${formatBytes(bytesDone / seconds)}/s` : ""
    return `sync: copying ${bar} ${files}  ${formatBytes(bytesDone)}/${formatBytes(bytesTotal)}${rate}`
  }
}
