/**
 * Runs the built `reductio` command under another JavaScript runtime (Bun, Deno), as a user of
 * that runtime would: `bun reductio.js …`, `deno run -A reductio.js …`.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"
import { type CliOptions, type CliResult, cleanEnv, repoRoot } from "./cli.js"

/** The runtimes the CLI is tested under besides Node. */
export const OTHER_RUNTIMES = ["bun", "deno"] as const
export type OtherRuntime = (typeof OTHER_RUNTIMES)[number]

const bin = join(repoRoot, "bin", "reductio.js")

/**
 * The runtime's binary: `REDUCTIO_TEST_BUN` / `REDUCTIO_TEST_DENO`, else the devDependency in
 * node_modules/.bin, else the first on PATH; undefined when there is none.
 */
export function runtimeBinary(runtime: OtherRuntime): string | undefined {
  const named = process.env[`REDUCTIO_TEST_${runtime.toUpperCase()}`]
  if (named !== undefined && named !== "") return existsSync(named) ? named : undefined
  const candidates = [join(repoRoot, "node_modules", ".bin"), ...(process.env.PATH ?? "").split(delimiter)]
  return candidates.map((dir) => join(dir, runtime)).find((path) => existsSync(path))
}

/** Why a runtime's specs are skipped here, or false when its binary is present. */
export function skipUnless(runtime: OtherRuntime): string | false {
  return runtimeBinary(runtime) === undefined
    ? `${runtime} is not installed: \`npm install\` installs it (a devDependency), or set REDUCTIO_TEST_${runtime.toUpperCase()} to its binary`
    : false
}

/** The arguments that run a script file under `runtime`. */
export function runtimeArgs(runtime: OtherRuntime, script: string): string[] {
  return runtime === "bun" ? [script] : ["run", "-A", script]
}

/** Runs `reductio ...args` (the built CLI) under `runtime`; resolves when it exits. */
export function runCliUnder(runtime: OtherRuntime, args: readonly string[], options: CliOptions): Promise<CliResult> {
  const binary = runtimeBinary(runtime)
  if (binary === undefined) throw new Error(skipUnless(runtime) || runtime)
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...runtimeArgs(runtime, bin), ...args], {
      cwd: options.cwd,
      env: cleanEnv({ NO_COLOR: "1", ...options.env }),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })
}
