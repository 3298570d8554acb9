/**
 * Runs the `reductio` command as a user would, on the TypeScript sources (the `reductio-source`
 * export condition and tsx), in a given working directory.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const bin = fileURLToPath(new URL("../../bin/reductio.js", import.meta.url))
const tsx = import.meta.resolve("tsx")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Node arguments that load TypeScript sources the way the test suite does. */
export const sourceNodeArgs = ["--conditions=reductio-source", `--import=${tsx}`]

/** Where and how to run the command. */
export interface CliOptions {
  readonly cwd: string
  readonly env?: NodeJS.ProcessEnv
  /** Sends SIGINT (Ctrl-C) this many ms after the start. */
  readonly signalAfterMs?: number
  /** Sends SIGINT once this returns true (polled every 50 ms). */
  readonly interruptWhen?: () => boolean
  /** Sends SIGKILL (a host dying) once this returns true (polled every 50 ms). */
  readonly killWhen?: () => boolean
}

/** Runs `reductio ...args`; resolves when it exits. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return runNode([bin, ...args], options)
}

/** Runs the built command (dist/, as installed from npm) with plain `node`: no source loader. */
export function runBuiltCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return runNode([bin, ...args], options, [])
}

/** Runs `node <args>`, by default with the source loader. */
export function runNode(args: readonly string[], options: CliOptions, nodeArgs: readonly string[] = sourceNodeArgs): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    if (options.signalAfterMs !== undefined) setTimeout(() => child.kill("SIGINT"), options.signalAfterMs)
    const { interruptWhen, killWhen } = options
    const when = interruptWhen ?? killWhen
    const poll =
      when === undefined
        ? undefined
        : setInterval(() => {
            if (!when()) return
            clearInterval(poll)
            child.kill(interruptWhen === undefined ? "SIGKILL" : "SIGINT")
          }, 50)
    child.on("error", reject)
    child.on("close", (code) => {
      clearInterval(poll)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The test process's environment without reductio's own variables, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries({ ...process.env, ...extra })) {
    if (value === undefined || key === "NODE_OPTIONS" || (key.startsWith("REDUCTIO_") && !(key in extra))) continue
    env[key] = value
  }
  return env
}
