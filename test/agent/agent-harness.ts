// Shared by the agent and process executor tests: builds the agent once per test process, makes
// scratch directories and runs the agent exactly as the image does (plain `node agent.js`, a clean
// environment, an empty working directory without node_modules).
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { buildAgent } from "../../agent/build-agent.js"
import { type JobEntry, PROTOCOL_VERSION, encodeEntries, scratch } from "../../runtime/protocol.js"

export const fixtureWorkflow = new URL("../fixtures/agent/workflow.ts", import.meta.url).pathname

let agent: Promise<string> | undefined

/** Builds agent/main.ts into a temp file (once per process) and returns its path. */
export function builtAgent(): Promise<string> {
  agent ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "reductio-agent-build-"))
    const outfile = join(dir, "agent.js")
    await buildAgent(outfile)
    return outfile
  })()
  return agent
}

/** A fresh temp directory. */
export function tempDir(prefix = "reductio-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/** A stand-in eval hash for a test's label: a lowercase hex sha256, as the protocol requires. */
export function hashOf(label: string): string {
  return createHash("sha256").update(label).digest("hex")
}

/** A job entry for `task` with `args`, its eval hash {@link hashOf} `label`. */
export function entryFor(label: string, task: string, args: unknown[]): JobEntry {
  return { protocol: PROTOCOL_VERSION, evalHash: hashOf(label), task, args, options: {} }
}

/** Writes a single job's input and returns its path. */
export async function writeJobInput(root: string, entry: JobEntry): Promise<string> {
  const path = scratch.jobInput(root, entry.evalHash)
  await mkdir(join(path, ".."), { recursive: true })
  await writeFile(path, encodeEntries(entry))
  return path
}

/** What an agent run printed and how it exited. */
export interface AgentRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A started agent: its process, what it printed so far, and its end. */
export interface StartedAgent {
  readonly child: ChildProcess
  readonly printed: () => string
  readonly done: Promise<AgentRun>
}

/** Starts the built agent with `args` in an empty directory and a clean environment. */
export async function startBuiltAgent(args: readonly string[], env: Record<string, string> = {}): Promise<StartedAgent> {
  const agentPath = await builtAgent()
  const cwd = await tempDir("reductio-agent-cwd-")
  const child = spawn(process.execPath, [agentPath, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const done = new Promise<AgentRun>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
  return { child, printed: () => stdout + stderr, done }
}

/** Runs the built agent with `args` in an empty directory and a clean environment. */
export async function runBuiltAgent(args: readonly string[], env: Record<string, string> = {}): Promise<AgentRun> {
  return (await startBuiltAgent(args, env)).done
}

/** The name of bundle bytes: the sha256 of their tar (of the bytes themselves when they do not gunzip). */
export function bundleName(bytes: Uint8Array): string {
  let tar: Uint8Array = bytes
  try {
    tar = gunzipSync(bytes)
  } catch {}
  return createHash("sha256").update(tar).digest("hex")
}

/** Writes bundle bytes to `<root>/code/<sha256>.tar.gz` (so they pass the tamper check) and returns the path. */
export async function writeBundle(root: string, bytes: Uint8Array): Promise<string> {
  const path = scratch.code(root, bundleName(bytes))
  await mkdir(join(path, ".."), { recursive: true })
  await writeFile(path, bytes)
  return path
}
