/**
 * The timeline: a Gantt chart of jobs by their own times, one lane per task (jobs that overlap
 * stacked in rows): the wait (created → body started) light, the run (the body on its executor)
 * solid, the time spent on children after the body outlined.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { duration } from "./format.js"
import { href } from "./router.js"
import type { Timeline } from "./types.js"

const LABEL_WIDTH = 200
const MAX_ROWS_PER_LANE = 60
const AXIS_HEIGHT = 26
/** Above this many jobs the bars are drawn on a canvas: tens of thousands of SVG elements render slowly. */
const SVG_BARS_MAX = 1500

interface Bar {
  readonly index: number
  readonly row: number
}

interface Lane {
  readonly key: string
  readonly task: string
  /** The executor its jobs were submitted to; null: none (cached jobs). */
  readonly executor: string | null
  readonly bars: Bar[]
  readonly rows: number
  readonly jobs: number
}

/** One lane per executor and task, grouped by executor in order of appearance. */
function lanesOf(timeline: Timeline): Lane[] {
  const { jobs } = timeline
  const byLane = new Map<string, { task: number; executor: number; indexes: number[] }>()
  for (let i = 0; i < jobs.seq.length; i++) {
    const task = jobs.task[i] ?? 0
    const executor = jobs.executor?.[i] ?? 0
    const key = `${executor}:${task}`
    const lane = byLane.get(key)
    if (lane === undefined) byLane.set(key, { task, executor, indexes: [i] })
    else lane.indexes.push(i)
  }
  const end = (i: number) => jobs.ended[i] ?? timeline.durationMs
  const ordered = [...byLane.entries()].sort(([, a], [, b]) => a.executor - b.executor)
  return ordered.map(([key, { task, executor, indexes }]) => {
    indexes.sort((a, b) => (jobs.created[a] ?? 0) - (jobs.created[b] ?? 0))
    // Greedy interval packing: each job in the first row free at its start.
    const rowEnds: number[] = []
    const bars = indexes.map((index) => {
      const start = jobs.created[index] ?? 0
      let row = rowEnds.findIndex((rowEnd) => rowEnd <= start)
      if (row === -1) {
        row = rowEnds.length < MAX_ROWS_PER_LANE ? rowEnds.length : rowEnds.indexOf(Math.min(...rowEnds))
        if (row === rowEnds.length) rowEnds.push(0)
      }
      rowEnds[row] = Math.max(rowEnds[row] ?? 0, end(index))
      return { index, row }
    })
    return {
      key,
      task: timeline.tasks[task] ?? "?",
      executor: timeline.executors?.[executor] ?? null,
      bars,
      rows: Math.max(1, rowEnds.length),
      jobs: indexes.length,
    }
  })
}

function ticksOf(total: number, count: number): number[] {
  if (total <= 0) return [0]
  const raw = total / count
  const step = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
  ].find((s) => s >= raw)
  const size = step ?? raw
  return Array.from({ length: Math.floor(total / size) + 1 }, (_, i) => i * size)
}

export function TimelineChart({ timeline, executionId }: { timeline: Timeline; executionId: string }) {
  const lanes = useMemo(() => lanesOf(timeline), [timeline])
  const box = useRef<HTMLDivElement>(null)
  const [width, setWidth] = useState(1000)
  useEffect(() => {
    const measure = () => setWidth(Math.max(500, box.current?.clientWidth ?? 1000))
    measure()
    addEventListener("resize", measure)
    return () => removeEventListener("resize", measure)
  }, [])
  const { jobs } = timeline
  const total = Math.max(1, timeline.durationMs)
  const plot = width - LABEL_WIDTH - 16
  const x = (ms: number | null) => LABEL_WIDTH + ((ms ?? total) / total) * plot
  const jobCount = jobs.seq.length
  const rowHeight = jobCount > 2000 ? 4 : jobCount > 300 ? 7 : 14
  let y = AXIS_HEIGHT
  const placed = lanes.map((lane) => {
    const top = y
    const height = Math.max(36, lane.rows * (rowHeight + 2) + 8)
    y += height
    return { lane, top, height }
  })
  const onCanvas = jobCount > SVG_BARS_MAX
  return (
    <div class="timeline" ref={box}>
      <div class="timeline-plot">
        <svg width={width} height={y + 8} role="img" aria-label="timeline">
          {ticksOf(total, 8).map((tick) => (
            <g key={tick}>
              <line class="tick" x1={x(tick)} x2={x(tick)} y1={AXIS_HEIGHT - 6} y2={y} />
              <text class="tick-label" x={x(tick) + 3} y={14}>
                {duration(tick)}
              </text>
            </g>
          ))}
          {placed.map(({ lane, top, height }, laneIndex) => (
            <g key={lane.key}>
              <rect class={laneIndex % 2 === 0 ? "lane lane-even" : "lane"} x={0} y={top} width={width} height={height} />
              <text class="lane-label" x={8} y={top + 15}>
                {lane.task.length > 24 ? `${lane.task.slice(0, 23)}…` : lane.task}
              </text>
              <text class="lane-count" x={8} y={top + 28}>
                {lane.jobs} job{lane.jobs === 1 ? "" : "s"} · {lane.executor ?? "no executor"}
              </text>
              {!onCanvas &&
                lane.bars.map(({ index, row }) => {
                  const status = (jobs.status[index] ?? "DONE").toLowerCase()
                  const rowY = top + 4 + row * (rowHeight + 2)
                  const created = jobs.created[index] ?? 0
                  const started = jobs.started[index] ?? null
                  const bodyEnded = jobs.bodyEnded[index] ?? null
                  const ended = jobs.ended[index] ?? null
                  const runEnd = bodyEnded ?? (started === null ? null : ended)
                  return (
                    <a key={index} class="bar-job" href={href.job(executionId, jobs.seq[index] ?? 0)}>
                      <title>{`#${jobs.seq[index]} ${lane.task} ${jobs.status[index]}\nwait ${duration(started === null ? null : started - created)}  run ${duration(started === null || runEnd === null ? null : runEnd - started)}`}</title>
                      <rect
                        class={`wait fill-${status}`}
                        x={x(created)}
                        y={rowY}
                        width={Math.max(1, x(started ?? ended) - x(created))}
                        height={rowHeight}
                      />
                      {started !== null && (
                        <rect
                          class={`run fill-${status}`}
                          x={x(started)}
                          y={rowY}
                          width={Math.max(1.5, x(runEnd) - x(started))}
                          height={rowHeight}
                        />
                      )}
                      {bodyEnded !== null && ended !== null && ended - bodyEnded > 0 && (
                        <rect
                          class={`children stroke-${status}`}
                          x={x(bodyEnded)}
                          y={rowY + 0.5}
                          width={Math.max(1, x(ended) - x(bodyEnded))}
                          height={rowHeight - 1}
                        />
                      )}
                    </a>
                  )
                })}
            </g>
          ))}
        </svg>
        {onCanvas && (
          <CanvasBars
            timeline={timeline}
            placed={placed}
            x={x}
            rowHeight={rowHeight}
            width={width}
            height={y + 8}
            executionId={executionId}
          />
        )}
      </div>
      <p class="muted small">
        Light: waiting (created → its body started on its executor). Solid: the body running. Outlined: waiting on its children.
      </p>
    </div>
  )
}

interface PlacedLane {
  readonly lane: Lane
  readonly top: number
  readonly height: number
}

/** The bars of a big timeline on a canvas; a click opens the job under the pointer. */
function CanvasBars(props: {
  timeline: Timeline
  placed: readonly PlacedLane[]
  x: (ms: number | null) => number
  rowHeight: number
  width: number
  height: number
  executionId: string
}) {
  const { timeline, placed, x, rowHeight, width, height, executionId } = props
  const canvas = useRef<HTMLCanvasElement>(null)
  const hits = useRef<{ index: number; x0: number; x1: number; y: number }[]>([])
  useEffect(() => {
    const element = canvas.current
    const context = element?.getContext("2d")
    if (element == null || context == null) return
    const ratio = devicePixelRatio || 1
    element.width = Math.round(width * ratio)
    element.height = Math.round(height * ratio)
    context.scale(ratio, ratio)
    const style = getComputedStyle(document.documentElement)
    const colors = new Map<string, string>()
    const color = (status: string) => {
      let found = colors.get(status)
      if (found === undefined) colors.set(status, (found = style.getPropertyValue(`--${status}`).trim() || "#888"))
      return found
    }
    const { jobs } = timeline
    const list: { index: number; x0: number; x1: number; y: number }[] = []
    for (const { lane, top } of placed) {
      for (const { index, row } of lane.bars) {
        const status = (jobs.status[index] ?? "DONE").toLowerCase()
        const rowY = top + 4 + row * (rowHeight + 2)
        const created = jobs.created[index] ?? 0
        const started = jobs.started[index] ?? null
        const bodyEnded = jobs.bodyEnded[index] ?? null
        const ended = jobs.ended[index] ?? null
        const runEnd = bodyEnded ?? (started === null ? null : ended)
        context.fillStyle = color(status)
        context.globalAlpha = 0.25
        context.fillRect(x(created), rowY, Math.max(1, x(started ?? ended) - x(created)), rowHeight)
        context.globalAlpha = 1
        if (started !== null) context.fillRect(x(started), rowY, Math.max(1.5, x(runEnd) - x(started)), rowHeight)
        if (bodyEnded !== null && ended !== null && ended > bodyEnded) {
          context.strokeStyle = color(status)
          context.strokeRect(x(bodyEnded) + 0.5, rowY + 0.5, Math.max(1, x(ended) - x(bodyEnded) - 1), rowHeight - 1)
        }
        list.push({ index, x0: x(created), x1: Math.max(x(ended), x(created) + 2), y: rowY })
      }
    }
    hits.current = list
    element.dataset["bars"] = String(list.length)
  }, [timeline, placed, x, rowHeight, width, height])
  const at = (event: MouseEvent) => {
    const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect()
    const px = event.clientX - rect.left
    const py = event.clientY - rect.top
    return hits.current.find((hit) => px >= hit.x0 - 1 && px <= hit.x1 + 1 && py >= hit.y && py <= hit.y + rowHeight)
  }
  return (
    <canvas
      ref={canvas}
      class="timeline-bars"
      style={{ width: `${width}px`, height: `${height}px` }}
      onClick={(event) => {
        const hit = at(event)
        const seq = hit === undefined ? undefined : timeline.jobs.seq[hit.index]
        if (seq !== undefined) location.hash = href.job(executionId, seq)
      }}
      onMouseMove={(event) => {
        const hit = at(event)
        const element = event.currentTarget as HTMLCanvasElement
        element.title =
          hit === undefined
            ? ""
            : `#${timeline.jobs.seq[hit.index]} ${timeline.tasks[timeline.jobs.task[hit.index] ?? 0]} ${timeline.jobs.status[hit.index]}`
        element.style.cursor = hit === undefined ? "default" : "pointer"
      }}
    />
  )
}
