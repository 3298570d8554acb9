/**
 * @module serve
 * `node agent.js --serve`: a reusable agent worker. It reads job requests from stdin, one JSON
 * object a line, `{"id":N,"args":["--code",…,"--input",…,"--scratch",…]}` (the same flags as one
 * fresh run, args.ts), runs them one at a time exactly as a fresh agent would (run-job.ts: the
 * same output, error and log files), and answers each on file descriptor 3 with
 * `{"id":N,"exit":code}`. File descriptor 3 keeps the replies apart from the task's own console
 * output on stdout. A bundle is imported once per worker (Node's module cache, keyed by the
 * extraction directory, itself named by the bundle's sha256), so later jobs skip extraction,
 * verification and loading.
 *
 * Every request is checked: a line longer than {@link MAX_REQUEST_BYTES}, malformed JSON, other
 * keys or values than the ones above answer `{"error":{"code":"AGENT_REQUEST_INVALID",…}}` and end
 * the worker with exit 2 (the host starts another). A job stopped by SIGTERM ends the worker with
 * exit 143 after its CANCELLED record; SIGTERM between jobs ends it at once. End of stdin ends it
 * with exit 0.
 */
import { writeSync } from "node:fs"
import { ReductioError, toErrorRecord } from "../runtime/errors.js"
import { AGENT_EXIT } from "../runtime/protocol.js"
import { type AgentContext, runAgent } from "./run-job.js"

/** Longest request line, in bytes (paths of a few kilobytes at most). */
export const MAX_REQUEST_BYTES = 64 * 1024
/** At most this many arguments, each of at most {@link MAX_ARG_CHARS} characters. */
const MAX_ARGS = 32
const MAX_ARG_CHARS = 8 * 1024
/** The file descriptor replies go to. */
const REPLY_FD = 3

/** One checked request. */
export interface ServeRequest {
  readonly id: number
  readonly args: readonly string[]
}

/**
 * Checks one request line; AGENT_REQUEST_INVALID naming what is wrong otherwise.
 *
 * @example
 * const { id, args } = parseServeRequest('{"id":1,"args":["--code","…"]}')
 */
export function parseServeRequest(line: string): ServeRequest {
  const invalid = (why: string) => new ReductioError("AGENT_REQUEST_INVALID", `the agent worker's request ${why}`)
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    throw invalid("is not JSON")
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("is not a JSON object")
  const keys = Object.keys(value).sort()
  if (keys.length !== 2 || keys[0] !== "args" || keys[1] !== "id")
    throw invalid(`has the keys ${JSON.stringify(keys.slice(0, 8))}, not id and args`)
  const { id, args } = value as { id: unknown; args: unknown }
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) throw invalid("has an id that is not a non-negative integer")
  if (!Array.isArray(args) || args.length > MAX_ARGS) throw invalid(`has args that are not a list of at most ${MAX_ARGS} strings`)
  for (const arg of args) {
    if (typeof arg !== "string" || arg.length > MAX_ARG_CHARS || arg.includes("\0")) {
      throw invalid(`has an argument that is not a string of at most ${MAX_ARG_CHARS} characters without NUL`)
    }
  }
  if (args.includes("--serve")) throw invalid("asks for --serve inside a worker")
  return { id, args: args as string[] }
}

/**
 * Serves job requests from `input` until it ends or a request is malformed; resolves to the
 * worker's exit code.
 *
 * @example
 * process.exit(await serveAgent({ env: process.env, kernel }, process.stdin))
 */
export async function serveAgent(context: Omit<AgentContext, "argv">, input: NodeJS.ReadStream): Promise<number> {
  let buffered = ""
  const lines: string[] = []
  let ended = false
  let wake: (() => void) | undefined
  input.setEncoding("utf8")
  input.on("data", (chunk: string) => {
    buffered += chunk
    let newline = buffered.indexOf("\n")
    while (newline >= 0) {
      lines.push(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf("\n")
    }
    if (Buffer.byteLength(buffered) > MAX_REQUEST_BYTES) {
      lines.push(buffered)
      buffered = ""
    }
    wake?.()
  })
  input.once("end", () => {
    ended = true
    wake?.()
  })
  for (;;) {
    const line = lines.shift()
    if (line === undefined) {
      if (ended) return AGENT_EXIT.done
      await new Promise<void>((resolve) => {
        wake = resolve
      })
      wake = undefined
      continue
    }
    let request: ServeRequest
    try {
      if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) {
        throw new ReductioError("AGENT_REQUEST_INVALID", `the agent worker's request is longer than ${MAX_REQUEST_BYTES} bytes`)
      }
      request = parseServeRequest(line)
    } catch (error) {
      const record = toErrorRecord(error)
      console.error(`reductio agent: [${record.code}] ${record.message}`)
      reply({ error: { code: record.code, message: record.message } })
      return AGENT_EXIT.infrastructure
    }
    // While a job runs, stdin must not keep the process alive: a task whose promise can never
    // settle is then detected (the event loop empties) as in a fresh agent.
    unref(input)
    const exit = await runAgent({ ...context, argv: request.args })
    ref(input)
    if (exit === AGENT_EXIT.cancelled) return exit
    reply({ id: request.id, exit })
  }
}

function reply(message: object): void {
  const bytes = Buffer.from(`${JSON.stringify(message)}\n`)
  let written = 0
  while (written < bytes.length) {
    try {
      written += writeSync(REPLY_FD, bytes, written)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error
    }
  }
}

function unref(input: NodeJS.ReadStream): void {
  ;(input as { unref?: () => void }).unref?.()
}

function ref(input: NodeJS.ReadStream): void {
  ;(input as { ref?: () => void }).ref?.()
}
