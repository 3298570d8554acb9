/** The executions: status, command, duration, tags and counts by status; filters by status, tag and task. */
import { report, useApi } from "./api.js"
import { CountsBar, Loading, Status } from "./common.js"
import { duration, time } from "./format.js"
import { apiPath, href } from "./router.js"
import type { ExecutionList } from "./types.js"

const PAGE = 50
const STATUSES = ["RUNNING", "DONE", "FAILED", "CANCELLED", "ABANDONED"]

export function ExecutionsView({ query }: { query: URLSearchParams }) {
  const status = query.get("status") ?? ""
  const tag = query.get("tag") ?? ""
  const task = query.get("task") ?? ""
  const offset = Number(query.get("offset") ?? "0") || 0
  const params = new URLSearchParams()
  if (status !== "") params.set("status", status)
  if (tag !== "") params.set("tag", tag)
  if (task !== "") params.set("task", task)
  if (offset > 0) params.set("offset", String(offset))
  if (params.size > 0) params.set("limit", String(PAGE))
  const loaded = useApi<ExecutionList>(apiPath.executions(params.toString()), (list) => list.executions.some((e) => e.status === "RUNNING"))
  const go = (changes: Record<string, string>) => {
    const next = new URLSearchParams({ status, tag, task, offset: String(offset), ...changes })
    for (const [key, value] of [...next.entries()]) if (value === "" || (key === "offset" && value === "0")) next.delete(key)
    location.hash = href.executions(next.toString())
  }
  return (
    <section class="card">
      <h1>Executions</h1>
      {!report && (
        <form class="filters" onSubmit={(event) => event.preventDefault()}>
          <label>
            status{" "}
            <select value={status} onChange={(e) => go({ status: (e.target as HTMLSelectElement).value, offset: "0" })}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            tag{" "}
            <input
              value={tag}
              placeholder="key or key=value"
              onChange={(e) => go({ tag: (e.target as HTMLInputElement).value, offset: "0" })}
            />
          </label>
          <label>
            task{" "}
            <input
              value={task}
              placeholder="ran this task"
              onChange={(e) => go({ task: (e.target as HTMLInputElement).value, offset: "0" })}
            />
          </label>
        </form>
      )}
      <Loading loaded={loaded}>
        {(list) => (
          <>
            <table class="list executions">
              <thead>
                <tr>
                  <th>execution</th>
                  <th>status</th>
                  <th>started</th>
                  <th class="num">duration</th>
                  <th>command</th>
                  <th>jobs</th>
                  <th>tags</th>
                </tr>
              </thead>
              <tbody>
                {list.executions.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <a href={href.execution(e.id)}>
                        <code class="hash">{e.id}</code>
                      </a>
                    </td>
                    <td>
                      <Status status={e.status} />
                    </td>
                    <td class="nowrap">{time(e.startedAt)}</td>
                    <td class="num">{duration(e.durationMs)}</td>
                    <td>
                      <code class="preview">{e.command}</code>
                    </td>
                    <td class="counts-cell">
                      <CountsBar counts={e.counts.byStatus} total={e.counts.jobs} />
                      <span class="small muted">
                        {e.totals.jobs} jobs{e.totals.failed > 0 ? `, ${e.totals.failed} failed` : ""}
                      </span>
                    </td>
                    <td>
                      {Object.entries(e.tags)
                        .filter(([key]) => !["user", "host", "reductio_version", "git_commit", "git_dirty"].includes(key))
                        .map(([key, value]) => (
                          <span class="tag" key={key}>
                            {key}={value}
                          </span>
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {list.executions.length === 0 && <p class="muted">No execution matches{tag === "" ? "" : `: no execution has tag ${tag}`}.</p>}
            <div class="pager">
              {offset > 0 && (
                <button type="button" onClick={() => go({ offset: String(Math.max(0, offset - PAGE)) })}>
                  ← newer
                </button>
              )}
              {list.more && (
                <button type="button" onClick={() => go({ offset: String(offset + (params.size > 0 ? PAGE : list.limit)) })}>
                  older →
                </button>
              )}
            </div>
          </>
        )}
      </Loading>
    </section>
  )
}
