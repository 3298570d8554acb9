/** One execution: its header and progress, then its call graph, timeline or job list; live while it runs. */
import { report, useApi } from "./api.js"
import { CountsBar, ErrorBanner, Hash, Loading, Status } from "./common.js"
import { duration, STATUS_ORDER, time } from "./format.js"
import { CallGraph } from "./graph.js"
import { apiPath, href } from "./router.js"
import { TimelineChart } from "./timeline.js"
import type { ExecutionDetail, ExecutionSummary, GraphData, JobPage, StatusCounts, Timeline } from "./types.js"

const running = (detail: { execution?: ExecutionSummary; status?: string }) => (detail.execution?.status ?? detail.status) === "RUNNING"

export function ExecutionView({ id, query }: { id: string; query: URLSearchParams }) {
  const loaded = useApi<ExecutionDetail>(apiPath.execution(id), running)
  const view = query.get("view") ?? "graph"
  return (
    <Loading loaded={loaded}>
      {(detail) => {
        const execution = detail.execution
        const tab = (name: string, label: string) => (
          <a class={view === name ? "tab tab-active" : "tab"} href={href.execution(execution.id, name === "graph" ? "" : `view=${name}`)}>
            {label}
          </a>
        )
        return (
          <div>
            <ExecutionHeader execution={execution} />
            <ProgressTable graph={detail.graph} execution={execution} />
            <nav class="tabs">
              {tab("graph", "Call graph")}
              {tab("timeline", "Timeline")}
              {!report && tab("jobs", "Jobs")}
            </nav>
            {view === "graph" && (
              <CallGraph
                graph={detail.graph}
                executionId={execution.id}
                taskLink={(task) => href.execution(execution.id, `view=jobs&task=${encodeURIComponent(task)}`)}
              />
            )}
            {view === "timeline" && <TimelineView id={execution.id} />}
            {view === "jobs" && <JobsView id={execution.id} query={query} />}
          </div>
        )
      }}
    </Loading>
  )
}

function ExecutionHeader({ execution }: { execution: ExecutionSummary }) {
  return (
    <header class="card execution-header">
      <div class="title-row">
        <h1>
          <span class="muted">execution</span> <code class="hash">{execution.id}</code>
        </h1>
        <Status status={execution.status} />
        {execution.status === "RUNNING" && !report && <span class="live">● live</span>}
      </div>
      <p class="command">
        <code>{execution.command}</code>
      </p>
      <dl class="facts">
        <div>
          <dt>started</dt>
          <dd>{time(execution.startedAt)}</dd>
        </div>
        <div>
          <dt>duration</dt>
          <dd>{duration(execution.durationMs)}</dd>
        </div>
        <div>
          <dt>jobs</dt>
          <dd>
            {execution.totals.jobs} ({execution.totals.done} done, {execution.totals.cached} cached
            {execution.totals.failed > 0 ? `, ${execution.totals.failed} failed` : ""})
          </dd>
        </div>
        <div>
          <dt>root call</dt>
          <dd>
            <Hash value={execution.rootCallHash} />
          </dd>
        </div>
      </dl>
      {Object.keys(execution.tags).length > 0 && (
        <p class="tags">
          {Object.entries(execution.tags).map(([key, value]) => (
            <span class="tag" key={key}>
              {key}={value}
            </span>
          ))}
        </p>
      )}
      {execution.error && <pre class="error-text">{execution.error}</pre>}
    </header>
  )
}

/** Per task: PENDING / RUNNING / WAITING / FAILED / CACHED / DONE / TOTAL, as the run's live table. */
function ProgressTable({ graph, execution }: { graph: GraphData; execution: ExecutionSummary }) {
  const rows = new Map<string, StatusCounts & { total: number }>()
  if (graph.mode === "tasks") {
    for (const group of graph.nodes) rows.set(group.task, { ...group.byStatus, total: group.count })
  } else {
    for (const job of graph.nodes) {
      const row = rows.get(job.task) ?? { total: 0 }
      row[job.status] = (row[job.status] ?? 0) + 1
      row.total++
      rows.set(job.task, row)
    }
  }
  const columns = STATUS_ORDER.filter((s) => s !== "ABANDONED" || execution.counts.byStatus.ABANDONED)
  return (
    <section class="card">
      <div class="progress-head">
        <h2>Progress</h2>
        <CountsBar counts={execution.counts.byStatus} total={execution.counts.jobs} />
      </div>
      <table class="progress">
        <thead>
          <tr>
            <th>task</th>
            {columns.map((s) => (
              <th key={s} class="num">
                {s.toLowerCase()}
              </th>
            ))}
            <th class="num">total</th>
          </tr>
        </thead>
        <tbody>
          {[...rows.entries()].map(([task, row]) => (
            <tr key={task}>
              <td>
                <a href={href.execution(execution.id, `view=jobs&task=${encodeURIComponent(task)}`)}>{task}</a>
              </td>
              {columns.map((s) => (
                <td key={s} class={`num ${row[s] ? `text-${s.toLowerCase()}` : "muted"}`}>
                  {row[s] ?? 0}
                </td>
              ))}
              <td class="num">{row.total}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {execution.counts.reusedCalls > 0 && (
        <p class="muted small">{execution.counts.reusedCalls} recorded calls reused below cached jobs (no job of their own).</p>
      )}
    </section>
  )
}

function TimelineView({ id }: { id: string }) {
  const loaded = useApi<Timeline>(apiPath.timeline(id), running)
  return <Loading loaded={loaded}>{(timeline) => <TimelineChart timeline={timeline} executionId={id} />}</Loading>
}

const PAGE = 100

function JobsView({ id, query }: { id: string; query: URLSearchParams }) {
  const task = query.get("task") ?? ""
  const status = query.get("status") ?? ""
  const offset = Number(query.get("offset") ?? "0") || 0
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) })
  if (task !== "") params.set("task", task)
  if (status !== "") params.set("status", status)
  const loaded = useApi<JobPage>(report ? null : apiPath.jobs(id, params.toString()))
  const go = (changes: Record<string, string>) => {
    const next = new URLSearchParams({ view: "jobs", task, status, offset: String(offset), ...changes })
    for (const [key, value] of [...next.entries()]) if (value === "" || (key === "offset" && value === "0")) next.delete(key)
    location.hash = href.execution(id, next.toString())
  }
  if (report)
    return (
      <ErrorBanner
        error={{
          code: "NOT_IN_REPORT",
          message: "the job list is served by reductio ui; a report has the call graph, timeline and job pages",
        }}
      />
    )
  return (
    <section class="card">
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          task <input value={task} placeholder="any" onChange={(e) => go({ task: (e.target as HTMLInputElement).value, offset: "0" })} />
        </label>
        <label>
          status{" "}
          <select value={status} onChange={(e) => go({ status: (e.target as HTMLSelectElement).value, offset: "0" })}>
            <option value="">any</option>
            {STATUS_ORDER.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </form>
      <Loading loaded={loaded}>
        {(page) => (
          <>
            <table class="list">
              <thead>
                <tr>
                  <th class="num">#</th>
                  <th>status</th>
                  <th>call</th>
                  <th>arguments</th>
                  <th class="num">wait</th>
                  <th class="num">run</th>
                  <th>error</th>
                </tr>
              </thead>
              <tbody>
                {page.jobs.map((job) => (
                  <tr key={job.seq}>
                    <td class="num">
                      <a href={href.job(id, job.seq)}>{job.seq}</a>
                    </td>
                    <td>
                      <Status status={job.status} />
                    </td>
                    <td>
                      <a href={href.job(id, job.seq)}>{job.label}</a>
                    </td>
                    <td>
                      <code class="preview">{job.args}</code>
                    </td>
                    <td class="num">{duration(job.startedAt === null ? null : job.startedAt - job.createdAt)}</td>
                    <td class="num">
                      {duration(job.startedAt === null || job.bodyEndedAt === null ? null : job.bodyEndedAt - job.startedAt)}
                    </td>
                    <td class="error-cell">{job.error}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {page.jobs.length === 0 && <p class="muted">No job matches.</p>}
            <div class="pager">
              {offset > 0 && (
                <button type="button" onClick={() => go({ offset: String(Math.max(0, offset - PAGE)) })}>
                  ← previous
                </button>
              )}
              <span class="muted">{page.jobs.length === 0 ? "" : `jobs ${offset + 1}–${offset + page.jobs.length}`}</span>
              {page.more && (
                <button type="button" onClick={() => go({ offset: String(offset + PAGE) })}>
                  next →
                </button>
              )}
            </div>
          </>
        )}
      </Loading>
    </section>
  )
}
