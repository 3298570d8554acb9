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

/** Runs `reductio ...args`; resolves when it exits. */
export function runCli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; signalAfterMs?: number }): Promise<CliResult> {
  return runNode([bin, ...args], options)
}

/** Runs `node <args>` with the source loader. */
export function runNode(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; signalAfterMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeArgs, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    if (options.signalAfterMs !== undefined) setTimeout(() => child.kill("SIGINT"), options.signalAfterMs)
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
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
