/**
 * @module agent-worker
 * The host's side of a reusable agent worker (`node agent.js --serve`, agent/serve.ts): one
 * long-lived agent process that runs one job at a time. A job request is one JSON line on the
 * worker's stdin; its reply, `{"id":N,"exit":code}`, comes back on file descriptor 3 and is checked
 * like any bytes from another process (bounded, exact keys, a known exit code). A worker that exits,
 * crashes or answers out of protocol mid-job fails that job as the exit of a fresh agent would, and
 * is not reused.
 */
import { type ChildProcess, spawn } from "node:child_process"
import type { Readable } from "node:stream"
import { AGENT_EXIT } from "../protocol.js"

/** Longest reply line the host accepts from a worker. */
const MAX_REPLY_BYTES = 4 * 1024
const EXIT_CODES: ReadonlySet<number> = new Set(Object.values(AGENT_EXIT))

/** How one job on a worker ended: its agent exit code (reply or process exit) and what went wrong. */
export interface WorkerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The worker answered out of protocol; the message says how. */
  readonly protocolError?: string | undefined
  readonly spawnError?: Error | undefined
  /** True when the worker process is gone (it must not be reused). */
  readonly ended: boolean
}

/**
 * @example
 * const worker = new AgentWorker(agentPath, env)
 * const exit = await worker.run(["--code", uri, "--input", input, "--scratch", root])
 */
export class AgentWorker {
  readonly child: ChildProcess
  #nextId = 0
  #current: { id: number; settle: (exit: WorkerExit) => void } | undefined
  #ended = false
  #buffered = ""
  /** Called with every chunk the worker prints (stdout and stderr). */
  onOutput: (chunk: Buffer) => void = () => undefined

  constructor(agentPath: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [agentPath, "--serve"], { env, stdio: ["pipe", "pipe", "pipe", "pipe"] })
    this.child.stdin?.on("error", () => undefined)
    this.child.stdout?.on("data", (chunk: Buffer) => this.onOutput(chunk))
    this.child.stderr?.on("data", (chunk: Buffer) => this.onOutput(chunk))
    const replies = this.child.stdio[3] as Readable | null
    replies?.on("data", (chunk: Buffer) => this.#onReplies(chunk))
    replies?.on("error", () => undefined)
    this.child.once("error", (error) => this.#end({ code: null, signal: null, spawnError: error, ended: true }))
    this.child.once("close", (code, signal) => this.#end({ code, signal, ended: true }))
  }

  /** True while the worker process runs and has not broken the protocol. */
  get alive(): boolean {
    return !this.#ended
  }

  /** Sends one job (the agent's flags) and resolves when the worker answers or ends. */
  run(args: readonly string[]): Promise<WorkerExit> {
    if (this.#current !== undefined) throw new Error("an agent worker runs one job at a time")
    return new Promise((settle) => {
      if (this.#ended) {
        settle({ code: null, signal: null, protocolError: "the agent worker had already exited", ended: true })
        return
      }
      const id = ++this.#nextId
      this.#current = { id, settle }
      this.#hold(true)
      this.child.stdin?.write(`${JSON.stringify({ id, args })}\n`)
    })
  }

  /**
   * Keeps the host alive while a job runs, and not while the worker waits for one: a host that
   * never stops its executor still exits, and its idle workers then see stdin end and exit 0.
   */
  #hold(busy: boolean): void {
    const handles = [this.child, ...this.child.stdio] as ({ ref?: () => void; unref?: () => void } | null)[]
    for (const handle of handles) {
      if (busy) handle?.ref?.()
      else handle?.unref?.()
    }
  }

  /** Ends the worker's input: an idle worker then exits 0. */
  close(): void {
    this.child.stdin?.end()
  }

  #onReplies(chunk: Buffer): void {
    this.#buffered += chunk.toString("utf8")
    let newline = this.#buffered.indexOf("\n")
    while (newline >= 0) {
      const line = this.#buffered.slice(0, newline)
      this.#buffered = this.#buffered.slice(newline + 1)
      this.#onReply(line)
      newline = this.#buffered.indexOf("\n")
    }
    if (this.#buffered.length > MAX_REPLY_BYTES) this.#broken(`a reply longer than ${MAX_REPLY_BYTES} bytes`)
  }

  #onReply(line: string): void {
    const problem = this.#settleReply(line)
    if (problem !== undefined) this.#broken(problem)
  }

  /** Settles the current job from a valid reply; otherwise returns what is wrong with it. */
  #settleReply(line: string): string | undefined {
    if (line.length > MAX_REPLY_BYTES) return `a reply longer than ${MAX_REPLY_BYTES} bytes`
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return "a reply that is not JSON"
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "a reply that is not a JSON object"
    const reply = value as { id?: unknown; exit?: unknown; error?: { code?: unknown; message?: unknown } }
    if (reply.error !== undefined) {
      const code = typeof reply.error?.code === "string" ? reply.error.code.slice(0, 60) : "?"
      const message = typeof reply.error?.message === "string" ? reply.error.message.slice(0, 500) : ""
      return `the error [${code}] ${message}`
    }
    const keys = Object.keys(value).sort()
    const current = this.#current
    if (keys.length !== 2 || keys[0] !== "exit" || keys[1] !== "id") return "a reply with other keys than id and exit"
    if (current === undefined || reply.id !== current.id) return `a reply to job ${JSON.stringify(reply.id)}, which it was not running`
    if (typeof reply.exit !== "number" || !EXIT_CODES.has(reply.exit)) return `the unknown exit code ${JSON.stringify(reply.exit)}`
    this.#current = undefined
    this.#hold(false)
    current.settle({ code: reply.exit, signal: null, ended: false })
    return undefined
  }

  /** The worker spoke out of protocol: it is killed and its job fails. */
  #broken(what: string): void {
    const current = this.#current
    this.#current = undefined
    this.#ended = true
    this.child.kill("SIGKILL")
    current?.settle({ code: null, signal: null, protocolError: `[AGENT_REQUEST_INVALID] the agent worker sent ${what}`, ended: true })
  }

  #end(exit: WorkerExit): void {
    this.#ended = true
    const current = this.#current
    this.#current = undefined
    current?.settle(exit)
  }
}
