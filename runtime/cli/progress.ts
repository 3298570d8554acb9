/**
 * @module progress
 * Progress while a run goes on: the execution id at the start; on a terminal, a live table
 * redrawn in place (per task: PENDING, RUNNING, WAITING (a parent waiting on its children),
 * FAILED, CACHED, DONE, TOTAL and elapsed time); otherwise a plain line now and then; and a final
 * summary with the execution id, worded as `reductio log` words it.
 */
import type { JobStatus } from "../backend/backend.js"
import type { SchedulerEvent } from "../scheduler/events.js"
import type { CliIo } from "./io.js"
import { type CallTotals, formatTotals } from "./log-format.js"

/** How progress is shown: a live table, periodic lines, or nothing. */
export type ProgressMode = "table" | "lines" | "off"

interface TaskCounts {
  PENDING: number
  RUNNING: number
  WAITING: number
  FAILED: number
  CACHED: number
  DONE: number
  CANCELLED: number
  ABANDONED: number
  total: number
  firstAt: number
  lastAt: number
}

const COLUMNS = ["PENDING", "RUNNING", "WAITING", "FAILED", "CACHED", "DONE"] as const

/** Counts jobs per task from scheduler events and renders them. */
export class Progress {
  readonly #tasks = new Map<string, TaskCounts>()
  readonly #startedAt = Date.now()
  #timer: NodeJS.Timeout | undefined
  #drawnLines = 0
  #executionId = ""
  #reused = 0

  constructor(
    private readonly io: CliIo,
    private readonly mode: ProgressMode,
    private readonly intervalMs = mode === "table" ? 200 : 10_000,
  ) {}

  /** The listener to give the scheduler. */
  readonly onEvent = (event: SchedulerEvent): void => {
    if (event.type === "execution-started") {
      this.#executionId = event.executionId
      if (this.mode === "off") return
      this.#timer = setInterval(() => this.#render(), this.intervalMs).unref()
      this.io.err(`execution ${event.executionId} started\n`)
      return
    }
    if (event.type === "log") {
      if (this.mode !== "off") this.#print(`${event.message}\n`)
      return
    }
    if (event.type === "reused-calls") {
      // Calls reused with a cached parent count as cached, like the jobs they would have been.
      for (const [task, n] of Object.entries(event.calls)) {
        const counts = this.#counts(task)
        counts.total += n
        counts.CACHED += n
        counts.lastAt = Date.now()
        this.#reused += n
      }
      return
    }
    if (event.type !== "job") return
    const counts = this.#counts(event.task)
    if (event.previous === undefined) counts.total++
    else counts[event.previous as JobStatus]--
    counts[event.status]++
    counts.lastAt = Date.now()
  }

  #counts(task: string): TaskCounts {
    let counts = this.#tasks.get(task)
    if (counts === undefined) {
      counts = {
        PENDING: 0,
        RUNNING: 0,
        WAITING: 0,
        FAILED: 0,
        CACHED: 0,
        DONE: 0,
        CANCELLED: 0,
        ABANDONED: 0,
        total: 0,
        firstAt: Date.now(),
        lastAt: Date.now(),
      }
      this.#tasks.set(task, counts)
    }
    return counts
  }

  /** Stops redrawing and prints the final table (on a terminal) and a summary line. */
  finish(status: string): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.mode === "off" || this.#executionId === "") return
    if (this.mode === "table") this.#render()
    const seconds = ((Date.now() - this.#startedAt) / 1000).toFixed(2)
    this.io.err(`execution ${this.#executionId} ${status} in ${seconds}s: ${formatTotals(this.totals())}\n`)
  }

  /** Totals over every task. */
  totals(): CallTotals {
    const sum = (column: keyof TaskCounts) => [...this.#tasks.values()].reduce((total, counts) => total + counts[column], 0)
    return {
      jobs: sum("total"),
      done: sum("DONE"),
      cached: sum("CACHED"),
      reused: this.#reused,
      failed: sum("FAILED"),
      cancelled: sum("CANCELLED"),
      running: sum("RUNNING"),
      waiting: sum("WAITING"),
      pending: sum("PENDING"),
    }
  }

  #render(): void {
    if (this.mode === "lines") {
      const t = this.totals()
      const seconds = ((Date.now() - this.#startedAt) / 1000).toFixed(1)
      this.io.err(
        `[${seconds}s] ${t.done + t.cached}/${t.jobs} jobs finished (${t.cached} cached), ${t.running} running, ${t.waiting} waiting on children, ${t.failed} failed\n`,
      )
      return
    }
    this.#print("")
  }

  /** On a terminal: clears the table, prints `text` above it, redraws it. */
  #print(text: string): void {
    if (this.mode !== "table") {
      this.io.err(text)
      return
    }
    const table = this.#table()
    const clear = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}A\x1b[J` : ""
    this.#drawnLines = table.length
    this.io.err(`${clear}${text}${table.join("\n")}\n`)
  }

  #table(): string[] {
    const rows = [...this.#tasks].map(([name, c]) => [
      name,
      ...COLUMNS.map((column) => String(c[column])),
      String(c.total),
      formatSeconds((c.PENDING + c.RUNNING + c.WAITING > 0 ? Date.now() : c.lastAt) - c.firstAt),
    ])
    const header = ["TASK", ...COLUMNS, "TOTAL", "ELAPSED"]
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
    const line = (cells: string[]) =>
      cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join("  ")
    const maxRows = 30
    const shown =
      rows.length > maxRows
        ? [...rows.slice(0, maxRows - 1), [`… ${rows.length - maxRows + 1} more tasks`, ...header.slice(1).map(() => "")]]
        : rows
    return [line(header), ...shown.map(line)].map((text) => text.slice(0, Math.max(20, this.io.columns - 1)))
  }
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(1)}s`
  const minutes = Math.floor(seconds / 60)
  return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`
}
