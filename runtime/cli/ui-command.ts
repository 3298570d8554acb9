/**
 * @module ui-command
 * `reductio ui`: serves the web UI on 127.0.0.1 (its URL printed) over the project's database;
 * `reductio report <execution> -o run.html`: the same views of one execution as one
 * self-contained HTML file.
 */
import { spawn } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { resolve } from "node:path"
import { ReductioError } from "../errors.js"
// The UI server and report are imported when their command runs: node:http alone costs every
// other command (a `run`) tens of milliseconds to load.
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { withProjectBackend } from "./project-backend.js"

interface UiFlags {
  db?: string
  config?: string
  port?: string
  host?: string
  open?: boolean
}

interface ReportFlags {
  db?: string
  config?: string
  output?: string
  jobs?: string
}

/** How often the server marks executions whose host died as ABANDONED, at most. */
const ABANDON_CHECK_MS = 10_000

export const registerUiCommands: CommandRegistration = (program, io, done) => {
  program
    .command("ui")
    .summary("serve a web UI of the recorded runs (call graph, timeline, jobs, files)")
    .description("Serves the web UI on 127.0.0.1 and prints its URL; it opens on the most recent execution and follows running ones live.")
    .option("--port <n>", "port to listen on (0: any free port)", "7878")
    .option("--host <host>", "address to bind (default 127.0.0.1; another address exposes the database to the network)")
    .option("--open", "open the page in the default browser")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
    .option("--config <path>", "configuration file")
    .action(async (flags: UiFlags) => done(await uiCommand(io, flags)))
  program
    .command("report")
    .summary("write one execution's views as a self-contained HTML file")
    .argument("<execution>", "execution id or unique prefix (- for the latest)")
    .requiredOption("-o, --output <file>", "the HTML file to write")
    .option("--jobs <n>", "job pages to include (failed jobs first, then in sequence order)", "1000")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)")
    .option("--config <path>", "configuration file")
    .action(async (ref: string, flags: ReportFlags) => done(await reportCommand(io, ref, flags)))
}

function uiCommand(io: CliIo, flags: UiFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend) => {
    const port = wholeNumber(flags.port ?? "7878", "--port", 0, 65535)
    let checkedAt = 0
    const { UiServer } = await import("../ui/ui-server.js")
    const server = new UiServer({
      backend,
      port,
      ...(flags.host === undefined ? {} : { host: flags.host }),
      beforeApi: async () => {
        // An execution whose host died shows as ABANDONED, not RUNNING forever.
        if (Date.now() - checkedAt < ABANDON_CHECK_MS) return
        checkedAt = Date.now()
        await backend.abandonStaleExecutions?.(Date.now())
      },
    })
    const url = await server.start().catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE")
        throw new ReductioError("INVALID_ARGUMENT", `port ${port} is in use: choose another with --port (0: any free port)`)
      throw error
    })
    io.out(`reductio ui: ${url} (${backend.description}; Ctrl-C stops)\n`)
    if (flags.open === true) openBrowser(url)
    await new Promise<void>((resolveStop) => {
      const stop = () => resolveStop()
      process.once("SIGINT", stop)
      process.once("SIGTERM", stop)
    })
    await server.stop()
  })
}

function reportCommand(io: CliIo, ref: string, flags: ReportFlags): Promise<number> {
  return withProjectBackend(io, flags, async (backend) => {
    if (flags.output === undefined || flags.output === "")
      throw new ReductioError("INVALID_ARGUMENT", "-o <file> names the HTML file to write")
    const { buildReport } = await import("../ui/report.js")
    const html = await buildReport(backend, ref, { jobPages: wholeNumber(flags.jobs ?? "1000", "--jobs", 0, 100_000) })
    const path = resolve(io.cwd, flags.output)
    await writeFile(path, html.text)
    io.out(`wrote ${path} (execution ${html.executionId}, ${html.jobPages} job pages, ${Math.ceil(html.text.length / 1024)} KiB)\n`)
  })
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const value = Number(text)
  if (!/^\d{1,6}$/.test(text) || value < min || value > max) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text.slice(0, 40))})`,
    )
  }
  return value
}

function openBrowser(url: string): void {
  const command = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open"
  const child = spawn(command, [url], { stdio: "ignore", detached: true })
  child.on("error", () => undefined)
  child.unref()
}
