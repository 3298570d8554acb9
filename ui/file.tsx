/** A file's lineage: the calls that produced it (and upstream, their inputs' producers) and those that consumed it. */
import { useApi } from "./api.js"
import { Hash, Loading, Section } from "./common.js"
import { time } from "./format.js"
import { apiPath, href } from "./router.js"
import type { FileLineage, FileUse, LineageNode } from "./types.js"

export function FileView({ path }: { path: string }) {
  const loaded = useApi<FileLineage>(path === "" ? null : apiPath.file(path))
  return (
    <Loading loaded={loaded}>
      {(lineage) => (
        <div>
          <header class="card">
            <h1>
              <span class="muted">file</span> <code>{lineage.path}</code>
            </h1>
          </header>
          <Section title="Produced by">
            {lineage.producers.length === 0 ? <p class="muted">no recorded call</p> : <Producers nodes={lineage.producers} />}
          </Section>
          <Section title="Consumed by">
            {lineage.consumers.length === 0 ? (
              <p class="muted">no recorded call</p>
            ) : (
              <ul class="uses">
                {lineage.consumers.map((use) => (
                  <li key={`${use.callHash}:${use.executionId}`}>
                    <Use use={use} />
                  </li>
                ))}
              </ul>
            )}
          </Section>
        </div>
      )}
    </Loading>
  )
}

function Producers({ nodes }: { nodes: LineageNode[] }) {
  return (
    <ul class="uses">
      {nodes.map((node) => (
        <li key={node.callHash}>
          <Use use={node} />
          {node.inputs.map((input) => (
            <div class="upstream" key={`${input.path}:${input.fileHash}`}>
              from{" "}
              <a href={href.file(input.path)}>
                <code>{input.path}</code>
              </a>{" "}
              <Hash value={input.fileHash} />
              {input.producers.length === 0 ? (
                <span class="muted"> (not produced by a recorded call)</span>
              ) : (
                <Producers nodes={input.producers} />
              )}
            </div>
          ))}
        </li>
      ))}
    </ul>
  )
}

function Use({ use }: { use: FileUse }) {
  const label = (
    <>
      <strong>{use.task}</strong> <code class="preview">({use.args})</code>
    </>
  )
  return (
    <span>
      {use.executionId !== null && use.seq !== null ? <a href={href.job(use.executionId, use.seq)}>{label}</a> : label}{" "}
      <span class="muted">call</span> <Hash value={use.callHash} /> <span class="muted">file</span> <Hash value={use.fileHash} />
      {use.executionId !== null && (
        <>
          {" "}
          <span class="muted">in</span> <a href={href.execution(use.executionId)}>{use.executionId}</a>
        </>
      )}
      {use.at !== null && <span class="muted"> {time(use.at)}</span>}
    </span>
  )
}
