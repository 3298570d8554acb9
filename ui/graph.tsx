/**
 * The call graph: dagre lays out one node per job (or per task for big fan-outs), drawn as SVG,
 * colored by status, with zoom (wheel, buttons) and pan (drag). The layout is computed again only
 * when the graph's shape changes, so live updates only recolor.
 */
import dagre from "@dagrejs/dagre"
import { useEffect, useMemo, useRef, useState } from "preact/hooks"
import { CountsBar } from "./common.js"
import { href } from "./router.js"
import type { GraphData, JobSummary, StatusCounts } from "./types.js"

interface Placed {
  readonly id: string
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

interface Layout {
  readonly nodes: Map<string, Placed>
  readonly edges: { readonly from: string; readonly to: string; readonly points: { x: number; y: number }[]; readonly count?: number }[]
  readonly width: number
  readonly height: number
}

const JOB_NODE = { width: 210, height: 46 }
const TASK_NODE = { width: 240, height: 62 }

function layoutOf(graph: GraphData): Layout {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: 46, marginx: 20, marginy: 20 })
  g.setDefaultEdgeLabel(() => ({}))
  const size = graph.mode === "jobs" ? JOB_NODE : TASK_NODE
  const ids = graph.mode === "jobs" ? graph.nodes.map((n) => String(n.seq)) : graph.nodes.map((n) => n.task)
  for (const id of ids) g.setNode(id, { ...size })
  const edges =
    graph.mode === "jobs" ? graph.edges.map(([from, to]) => ({ from: String(from), to: String(to) })) : graph.edges.map((e) => ({ ...e }))
  for (const edge of edges) if (edge.from !== edge.to) g.setEdge(edge.from, edge.to)
  dagre.layout(g)
  const nodes = new Map<string, Placed>()
  for (const id of ids) {
    const node = g.node(id) as { x: number; y: number; width: number; height: number }
    nodes.set(id, { id, x: node.x, y: node.y, width: node.width, height: node.height })
  }
  const placed = edges
    .filter((edge) => edge.from !== edge.to)
    .map((edge) => ({ ...edge, points: ((g.edge(edge.from, edge.to) as { points?: { x: number; y: number }[] })?.points ?? []).slice() }))
  const label = g.graph() as { width?: number; height?: number }
  return { nodes, edges: placed, width: label.width ?? 100, height: label.height ?? 100 }
}

function shapeKey(graph: GraphData): string {
  return graph.mode === "jobs"
    ? `jobs:${graph.nodes.map((n) => n.seq).join(",")}`
    : `tasks:${graph.nodes.map((n) => n.task).join("\u0000")}|${graph.edges.map((e) => `${e.from}>${e.to}`).join("\u0000")}`
}

function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

export function CallGraph({ graph, executionId, taskLink }: { graph: GraphData; executionId: string; taskLink: (task: string) => string }) {
  const key = shapeKey(graph)
  const layout = useMemo(() => layoutOf(graph), [key])
  const svgRef = useRef<SVGSVGElement>(null)
  const [view, setView] = useState({ x: 0, y: 0, k: 1 })
  const drag = useRef<{ x: number; y: number; vx: number; vy: number; moved: boolean } | null>(null)
  const moved = useRef(false)

  const fit = () => {
    const svg = svgRef.current
    if (svg === null) return
    const { width, height } = svg.getBoundingClientRect()
    const k = Math.min(1.2, Math.max(0.05, Math.min(width / layout.width, height / layout.height)))
    setView({ k, x: (width - layout.width * k) / 2, y: Math.max(0, (height - layout.height * k) / 2) })
  }
  useEffect(fit, [layout])

  const zoomAt = (factor: number, cx: number, cy: number) =>
    setView((v) => {
      const k = Math.min(4, Math.max(0.03, v.k * factor))
      return { k, x: cx - ((cx - v.x) * k) / v.k, y: cy - ((cy - v.y) * k) / v.k }
    })

  const onWheel = (event: WheelEvent) => {
    event.preventDefault()
    const rect = (event.currentTarget as SVGSVGElement).getBoundingClientRect()
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top)
  }
  const onPointerDown = (event: PointerEvent) => {
    drag.current = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false }
    moved.current = false
  }
  const onPointerMove = (event: PointerEvent) => {
    const d = drag.current
    if (d === null) return
    const dx = event.clientX - d.x
    const dy = event.clientY - d.y
    if (Math.abs(dx) + Math.abs(dy) > 4) moved.current = true
    if (moved.current) setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }))
  }
  const onPointerUp = () => {
    drag.current = null
  }
  // A drag that ends on a node is a pan, not a click on its link.
  const open = (event: Event) => {
    if (moved.current) event.preventDefault()
  }
  const center = () => {
    const rect = svgRef.current?.getBoundingClientRect()
    return rect === undefined ? [0, 0] : [rect.width / 2, rect.height / 2]
  }

  return (
    <div class="graph">
      <div class="graph-tools">
        <span class="muted">
          {graph.mode === "jobs" ? `${graph.nodes.length} jobs` : `${graph.nodes.length} tasks (grouped: too many jobs to draw one by one)`}
        </span>
        <button type="button" onClick={() => zoomAt(1.25, ...(center() as [number, number]))} aria-label="zoom in">
          +
        </button>
        <button type="button" onClick={() => zoomAt(0.8, ...(center() as [number, number]))} aria-label="zoom out">
          −
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
      </div>
      <svg
        ref={svgRef}
        class="graph-canvas"
        role="img"
        aria-label="call graph"
        onWheel={onWheel}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerLeave={onPointerUp}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#9aa4b2" />
          </marker>
        </defs>
        <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
          {layout.edges.map((edge) => (
            <g key={`${edge.from}>${edge.to}`}>
              <polyline class="edge" points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")} marker-end="url(#arrow)" />
              {edge.count !== undefined && edge.count > 1 && edge.points.length > 0 && (
                <text
                  class="edge-count"
                  x={(edge.points[Math.floor(edge.points.length / 2)]?.x ?? 0) + 6}
                  y={edge.points[Math.floor(edge.points.length / 2)]?.y ?? 0}
                >
                  ×{edge.count}
                </text>
              )}
            </g>
          ))}
          {graph.mode === "jobs"
            ? graph.nodes.map((job) => (
                <JobNode
                  key={job.seq}
                  job={job}
                  at={layout.nodes.get(String(job.seq))}
                  link={href.job(executionId, job.seq)}
                  onOpen={open}
                />
              ))
            : graph.nodes.map((group) => (
                <TaskNode key={group.task} group={group} at={layout.nodes.get(group.task)} link={taskLink(group.task)} onOpen={open} />
              ))}
        </g>
      </svg>
      <Legend />
    </div>
  )
}

function JobNode({ job, at, link, onOpen }: { job: JobSummary; at: Placed | undefined; link: string; onOpen: (event: Event) => void }) {
  if (at === undefined) return null
  const status = job.status.toLowerCase()
  const x = at.x - at.width / 2
  const y = at.y - at.height / 2
  return (
    <a href={link} class={`node node-${status}`} data-seq={job.seq} data-task={job.task} data-status={job.status} onClick={onOpen}>
      <g transform={`translate(${x},${y})`}>
        <title>{`#${job.seq} ${job.label} (${job.args})\n${job.status}${job.error ? `\n${job.error}` : ""}`}</title>
        <rect class="node-box" width={at.width} height={at.height} rx="6" />
        <rect class={`node-stripe fill-${status}`} width="6" height={at.height} rx="3" />
        <text class="node-label" x="14" y="19">
          {clipText(job.label.replace(/^task /, ""), 26)}
          <tspan class="node-seq" dx="6">
            #{job.seq}
          </tspan>
        </text>
        <text class="node-args" x="14" y="36">
          {clipText(job.args === "" ? job.status : `(${job.args})`, 32)}
        </text>
      </g>
    </a>
  )
}

function TaskNode({
  group,
  at,
  link,
  onOpen,
}: {
  group: { task: string; count: number; byStatus: StatusCounts }
  at: Placed | undefined
  link: string
  onOpen: (event: Event) => void
}) {
  if (at === undefined) return null
  const worst = (["FAILED", "RUNNING", "WAITING", "PENDING", "CANCELLED", "ABANDONED", "CACHED", "DONE"] as const).find(
    (s) => (group.byStatus[s] ?? 0) > 0,
  )
  const status = (worst ?? "DONE").toLowerCase()
  const x = at.x - at.width / 2
  const y = at.y - at.height / 2
  return (
    <a href={link} class={`node node-${status}`} data-task={group.task} data-status={worst} onClick={onOpen}>
      <g transform={`translate(${x},${y})`}>
        <title>{`${group.task}: ${group.count} jobs\n${Object.entries(group.byStatus)
          .map(([s, n]) => `${n} ${s}`)
          .join(", ")}`}</title>
        <rect class="node-box" width={at.width} height={at.height} rx="6" />
        <rect class={`node-stripe fill-${status}`} width="6" height={at.height} rx="3" />
        <text class="node-label" x="14" y="20">
          {clipText(group.task, 24)}
          <tspan class="node-seq" dx="6">
            ×{group.count}
          </tspan>
        </text>
        <foreignObject x="14" y="32" width={at.width - 26} height="14">
          <CountsBar counts={group.byStatus} total={group.count} />
        </foreignObject>
      </g>
    </a>
  )
}

function Legend() {
  return (
    <div class="legend">
      {["DONE", "CACHED", "RUNNING", "WAITING", "PENDING", "FAILED", "CANCELLED"].map((s) => (
        <span key={s}>
          <i class={`swatch fill-${s.toLowerCase()}`} />
          {s.toLowerCase()}
        </span>
      ))}
    </div>
  )
}
