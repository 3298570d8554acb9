/** One job: its call, arguments and result (Files linked to their lineage), error, times, parent and children. */
import { useApi } from "./api.js"
import { Hash, Loading, Section, Status } from "./common.js"
import { duration, time } from "./format.js"
import { apiPath, href } from "./router.js"
import type { FileRef, JobDetail, JobSummary } from "./types.js"

export function JobView({ executionId, seq }: { executionId: string; seq: string }) {
  const loaded = useApi<JobDetail>(
    apiPath.job(executionId, seq),
    (job) => job.executionStatus === "RUNNING" && !["DONE", "FAILED", "CACHED", "CANCELLED"].includes(job.job.status),
  )
  return (
    <Loading loaded={loaded}>
      {(detail) => {
        const { job } = detail
        return (
          <div class="job">
            <p class="crumbs">
              <a href={href.execution(detail.executionId)}>
                execution <code class="hash">{detail.executionId}</code>
              </a>{" "}
              / job {job.seq}
            </p>
            <header class="card">
              <div class="title-row">
                <h1>{job.label}</h1>
                <Status status={job.status} />
                {detail.cached && <span class="pill">cached</span>}
                {detail.replayed !== null && <span class="pill">replayed {detail.replayed} calls below</span>}
              </div>
              <dl class="facts">
                <div>
                  <dt>task</dt>
                  <dd>
                    <a href={href.task(detail.task.name)}>{detail.task.name}</a> <Hash value={detail.task.hash} />
                    {detail.task.version && <span class="muted"> version {detail.task.version}</span>}
                  </dd>
                </div>
                <div>
                  <dt>eval hash</dt>
                  <dd>
                    <Hash value={detail.evalHash} length={16} />
                  </dd>
                </div>
                <div>
                  <dt>call hash</dt>
                  <dd>
                    <Hash value={detail.callHash} length={16} />
                  </dd>
                </div>
                <div>
                  <dt>executor</dt>
                  <dd>{detail.executor ?? <span class="muted">none (no body ran, or not recorded)</span>}</dd>
                </div>
                {detail.executorJobId !== null && (
                  <div>
                    <dt>
                      {detail.executorJobId.includes(":") || /^[0-9a-f-]{36}/.test(detail.executorJobId) ? "Batch job" : "executor job id"}
                    </dt>
                    <dd>
                      <code class="hash">{detail.executorJobId}</code>
                    </dd>
                  </div>
                )}
              </dl>
            </header>
            {detail.error && (
              <Section title="Error" id="error">
                <p class="error-title">
                  <strong>{detail.error.name}</strong>
                  {detail.error.code && <code class="code">{detail.error.code}</code>}
                </p>
                <pre class="error-text">{detail.error.message}</pre>
                {detail.error.exitCode !== null && <p>exit code {detail.error.exitCode}</p>}
                {detail.error.stderrTail && (
                  <>
                    <h3>stderr (tail)</h3>
                    <pre class="log">{detail.error.stderrTail}</pre>
                  </>
                )}
                {detail.error.stack && (
                  <>
                    <h3>stack</h3>
                    <pre class="log">{detail.error.stack}</pre>
                  </>
                )}
                {detail.error.logTail && (
                  <>
                    <h3>log tail</h3>
                    <pre class="log">{detail.error.logTail}</pre>
                  </>
                )}
              </Section>
            )}
            <Section title="Arguments" id="arguments">
              {detail.args === null ? (
                <p class="muted">not recorded</p>
              ) : detail.args.items.length > 0 ? (
                <ol class="args">
                  {detail.args.items.map((item, i) => (
                    <li key={i}>
                      <code class="preview">{item.preview}</code>
                      <Files files={item.files} />
                    </li>
                  ))}
                </ol>
              ) : (
                <code class="preview">{detail.args.preview || "()"}</code>
              )}
            </Section>
            <Section title="Result">
              {detail.result === null ? (
                <p class="muted">{job.status === "FAILED" ? "none: the call failed" : "not recorded yet"}</p>
              ) : (
                <>
                  <code class="preview">{detail.result.preview || detail.result.note}</code>
                  <Files files={detail.result.files} />
                </>
              )}
            </Section>
            <Section title="Times">
              <dl class="facts">
                <div>
                  <dt>created</dt>
                  <dd>{time(detail.times.createdAt)}</dd>
                </div>
                <div>
                  <dt>wait</dt>
                  <dd>{duration(detail.times.waitMs)}</dd>
                </div>
                <div>
                  <dt>run</dt>
                  <dd>{duration(detail.times.runMs)}</dd>
                </div>
                <div>
                  <dt>children</dt>
                  <dd>{duration(detail.times.childrenMs)}</dd>
                </div>
                <div>
                  <dt>total</dt>
                  <dd>{duration(detail.times.totalMs)}</dd>
                </div>
              </dl>
            </Section>
            <Section title="Parent and children">
              {detail.parent ? (
                <p>
                  ↑ <JobLink executionId={detail.executionId} job={detail.parent} />
                </p>
              ) : (
                <p class="muted">the root of its execution</p>
              )}
              {detail.children.length > 0 && (
                <ul class="children">
                  {detail.children.map((child) => (
                    <li key={child.seq}>
                      ↓ <JobLink executionId={detail.executionId} job={child} />
                    </li>
                  ))}
                </ul>
              )}
              {detail.moreChildren && (
                <p>
                  <a href={href.execution(detail.executionId, `view=jobs`)}>all children in the job list →</a>
                </p>
              )}
            </Section>
          </div>
        )
      }}
    </Loading>
  )
}

function JobLink({ executionId, job }: { executionId: string; job: JobSummary }) {
  return (
    <a href={href.job(executionId, job.seq)} class="job-link">
      <Status status={job.status} /> #{job.seq} {job.label} <code class="preview">({job.args})</code>
    </a>
  )
}

function Files({ files }: { files: FileRef[] }) {
  if (files.length === 0) return null
  return (
    <ul class="files">
      {files.map((file) => (
        <li key={`${file.path}:${file.hash}`}>
          <a href={href.file(file.path)}>
            {file.kind} <code>{file.path}</code>
          </a>{" "}
          <Hash value={file.hash} />
        </li>
      ))}
    </ul>
  )
}
