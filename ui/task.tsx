/** A task: its recorded versions with their source, and its latest jobs. */
import { useApi } from "./api.js"
import { Hash, Loading, Section, Status } from "./common.js"
import { time } from "./format.js"
import { apiPath, href } from "./router.js"
import type { TaskDetail } from "./types.js"

export function TaskView({ name }: { name: string }) {
  const loaded = useApi<TaskDetail>(apiPath.task(name))
  return (
    <Loading loaded={loaded}>
      {(task) => (
        <div>
          <header class="card">
            <h1>
              <span class="muted">task</span> {task.name}
            </h1>
            <p class="muted">
              {task.versions.length} recorded version{task.versions.length === 1 ? "" : "s"}
            </p>
          </header>
          {task.versions.map((version) => (
            <Section key={version.hash} title={version.version === null ? "Version (by source)" : `Version ${version.version}`}>
              <p>
                task hash <Hash value={version.hash} length={16} />
              </p>
              <pre class="source">{version.source}</pre>
            </Section>
          ))}
          <Section title="Latest jobs">
            <ul class="children">
              {task.recentJobs.map((job) => (
                <li key={`${job.executionId}/${job.seq}`}>
                  <a href={href.job(job.executionId, job.seq)}>
                    <Status status={job.status} /> {job.executionId}/{job.seq}
                  </a>{" "}
                  <span class="muted">{time(job.createdAt)}</span> <Hash value={job.taskHash} />
                </li>
              ))}
            </ul>
          </Section>
        </div>
      )}
    </Loading>
  )
}
