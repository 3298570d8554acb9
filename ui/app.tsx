/**
 * @module app
 * The web UI of reductio (`reductio ui`, `reductio report`): executions, one execution's call
 * graph and timeline, jobs, file lineage and tasks, all read from the JSON API (docs/ui-api.md).
 */
import "./app.css"
import { render } from "preact"
import { report } from "./api.js"
import { ExecutionView } from "./execution.js"
import { ExecutionsView } from "./executions.js"
import { FileView } from "./file.js"
import { JobView } from "./job.js"
import { href, useRoute } from "./router.js"
import { TaskView } from "./task.js"

function App() {
  const route = useRoute()
  return (
    <>
      <header class="topbar">
        <a class="brand" href={href.executions()}>
          reductio
        </a>
        <nav>
          <a href={href.executions()}>Executions</a>
          {!report && <a href={href.execution("-")}>Latest</a>}
        </nav>
        {report && <span class="muted small">report (a snapshot; reductio ui shows it live)</span>}
      </header>
      <main>
        {route.view === "executions" && <ExecutionsView query={route.query} />}
        {route.view === "execution" && <ExecutionView key={route.id} id={route.id} query={route.query} />}
        {route.view === "job" && <JobView key={`${route.executionId}/${route.seq}`} executionId={route.executionId} seq={route.seq} />}
        {route.view === "file" && <FileView key={route.path} path={route.path} />}
        {route.view === "task" && <TaskView key={route.name} name={route.name} />}
      </main>
    </>
  )
}

if (report !== undefined && location.hash === "") history.replaceState(null, "", report.start)
const root = document.getElementById("app")
if (root !== null) render(<App />, root)
