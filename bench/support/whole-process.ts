/**
 * Times whole `reductio` processes as a user runs them: the built CLI (dist/) on a workflow in a
 * throwaway project, with SQLite provenance on.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const bin = join(repoRoot, "bin/reductio.js")
const rssHook = join(repoRoot, "bench/support/report-rss.mjs")

export interface Timed {
  readonly seconds: number
  readonly maxRssMb: number
  /** User plus system CPU time of the process, in seconds. */
  readonly cpuSeconds: number
  readonly stdout: string
  readonly stderr: string
}

/** A project directory with `node_modules/reductio-workflow` pointing at this checkout. */
export function benchProject(files: Record<string, string>): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "reductio-bench-"))
  mkdirSync(join(dir, "node_modules"))
  symlinkSync(repoRoot, join(dir, "node_modules/reductio-workflow"), "dir")
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Runs `reductio <args>` in `cwd` and measures wall time and peak RSS. Throws if it fails.
 * `execPath`: the Node binary to run it with (this process's by default).
 */
export function reductio(args: readonly string[], cwd: string, execPath = process.execPath): Timed {
  return node([bin, ...args], cwd, execPath)
}

/** Runs `node <args>` in `cwd` (a program of the bench's own) and measures it as {@link reductio} does. */
export function node(args: readonly string[], cwd: string, execPath = process.execPath): Timed {
  const started = process.hrtime.bigint()
  const result = spawnSync(execPath, [`--import=${new URL(`file://${rssHook}`).href}`, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
    maxBuffer: 256 * 1024 * 1024,
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed (${result.status}):\n${result.stderr}`)
  const rss = /BENCH_MAX_RSS_KB=(\d+)/.exec(result.stderr)
  const cpu = /BENCH_CPU_US=(\d+)/.exec(result.stderr)
  return {
    seconds: round(seconds),
    maxRssMb: round(Number(rss?.[1] ?? 0) / 1024),
    cpuSeconds: round(Number(cpu?.[1] ?? 0) / 1e6),
    stdout: result.stdout,
    stderr: result.stderr,
  }
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits
  return Math.round(value * scale) / scale
}

/** The median of `runs` measurements. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
