/**
 * @module script
 * `script(command, { inputs, outputs })`: a task that runs a shell command in a fresh temporary
 * directory (or in `cwd`). Staged inputs (`file.stage("local")`, `dir.stage("local")`) are copied in first;
 * staged outputs are copied out after, and the call's value is `outputs` with each staged file or
 * directory replaced by its remote File or Dir and `stdout` replaced by the command's standard
 * output. It is an ordinary task (registered as
 * `reductio.script`), so it runs on any executor, the Batch agent included. Cancelling the run
 * (Ctrl-C) ends the shell (SIGTERM, then SIGKILL) and the call with CANCELLED. Errors and
 * `reductio log` name it after the task whose body built it, or its `name` option.
 *
 * @example
 * const sorted = script("sort -u reads.txt > sorted.txt && wc -l < sorted.txt", {
 *   inputs: [new File("s3://lab/reads.txt").stage("reads.txt")],
 *   outputs: { sorted: new File("s3://lab/sorted.txt").stage("sorted.txt"), lines: stdout },
 * })
 * // sorted: Lazy<{ sorted: File; lines: string }>
 */
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { ReductioError } from "./errors.js"
import type { CallOptions, Lazily, Lazy } from "./expression.js"
import { Dir } from "./dir.js"
import { File, isFile, isStagingDir, isStagingFile, STDOUT, type StagingDir, type StagingFile } from "./file.js"
import { ENV_NAME, exists, firstLine, runShell, type ShellConfig } from "./script-shell.js"
import { MODE_KEY, WORKFLOW_KEY } from "./run.js"
import { task } from "./task.js"
import { currentSignal } from "./task-context.js"

declare const stdoutBrand: unique symbol
/** The type of {@link stdout}: a File that stands for the script's standard output. */
export type Stdout = File & { readonly [stdoutBrand]: true }

/** Put it in `outputs` where the script's standard output (a string) should go. */
export const stdout: Stdout = new File(STDOUT) as Stdout

/** What `script()` returns for an `outputs` value: staged files become Files, stdout a string. */
export type ScriptResult<O> = O extends Stdout
  ? string
  : O extends StagingFile | File
    ? File
    : O extends StagingDir | Dir
      ? Dir
      : O extends readonly (infer E)[]
        ? ScriptResult<E>[]
        : O extends Map<infer K, infer V>
          ? Map<K, ScriptResult<V>>
          : O extends object
            ? { [K in keyof O]: ScriptResult<O[K]> }
            : O

/** Options of {@link script}: what to stage, the environment, and any task call option. */
export interface ScriptOptions<O> extends CallOptions {
  /** Values holding StagingFiles and StagingDirs to copy in before the command runs (and Files it reads in place). */
  readonly inputs?: Lazily<unknown>
  /** The value to return: StagingFiles and StagingDirs are copied out, `stdout` is the standard output. */
  readonly outputs?: O
  /** Extra environment variables. Stored with the call's arguments, in plaintext, and part of its cache key. */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Names of environment variables holding secrets (`["API_TOKEN"]`): each is read from the
   * environment of the process that runs the script (the host's for the local and process
   * executors; on AWS Batch, the executor's `secrets` put it there) and passed to the command.
   * Only the names are stored and hashed; the values never reach the database, the scratch store
   * or a hash, and are masked in the script's stderr. Unset where it runs: SECRET_MISSING.
   */
  readonly secretEnv?: readonly string[]
  /** The shell (default: bash with `set -euo pipefail`, or /bin/sh with `set -eu` without bash). */
  readonly shell?: string
  /**
   * Run in this directory instead of a fresh temporary one (relative: to the workflow file's
   * directory; in a container, to the agent's working directory). Staged inputs are copied into it
   * and staged outputs read from it; nothing in it is removed. Its absolute path is part of the
   * cache key.
   */
  readonly cwd?: string
}

/** What the script task receives besides its command, inputs and outputs. */
interface ScriptConfig extends ShellConfig {
  readonly cwd?: string
}

const SCRIPT_TASK = "reductio.script"
const OUTPUT = "reductio.output"
const STAGE_CONCURRENCY = 16

/** An output as plain data, so the cache key holds the output's path but not its current hash. */
type OutputSpec =
  | { readonly [OUTPUT]: "stdout" }
  | { readonly [OUTPUT]: "staged"; readonly local: string; readonly remote: string; readonly contentHash: boolean }
  | { readonly [OUTPUT]: "file"; readonly path: string; readonly contentHash: boolean }
  | { readonly [OUTPUT]: "stagedDir"; readonly local: string; readonly remote: string }

/**
 * Runs `command` in a shell as a task. Non-zero exit → SCRIPT_FAILED (with the exit code and the
 * tail of stderr); a declared output the command did not write → OUTPUT_MISSING; a missing input →
 * FILE_NOT_FOUND; a `secretEnv` variable unset where it runs → SECRET_MISSING; the run cancelled
 * → CANCELLED.
 *
 * @example
 * const counted = script("wc -l < in.txt", { inputs: [new File("in.txt").stage()] }) // Lazy<string>
 * const posted = script('curl -fsS -H "Authorization: Bearer $API_TOKEN" https://api.example.com/run', {
 *   secretEnv: ["API_TOKEN"],    // the value comes from the environment where the script runs
 * })
 */
export function script<O = Stdout>(command: Lazily<string>, options: ScriptOptions<O> = {}): Lazy<ScriptResult<O>> {
  const { inputs, outputs, env, shell, secretEnv, cwd, ...callOptions } = options
  const config: ScriptConfig = {
    ...(env === undefined ? {} : { env }),
    ...(shell === undefined ? {} : { shell }),
    ...(secretEnv === undefined || secretEnv.length === 0 ? {} : { secretEnv: checkSecretNames(secretEnv, env) }),
    ...(cwd === undefined ? {} : { cwd: resolve(workflowDirectory(), cwd) }),
  }
  const args = [command, inputs ?? [], toSpec(outputs === undefined ? stdout : outputs), config] as const
  const call = Object.keys(callOptions).length === 0 ? scriptTask : scriptTask.options(callOptions)
  return (call as unknown as (...a: readonly unknown[]) => Lazy<ScriptResult<O>>)(...args)
}

/** The secret variable names, sorted (their order changes nothing); INVALID_ARGUMENT for a bad one. */
function checkSecretNames(names: readonly string[], env: Readonly<Record<string, string>> | undefined): string[] {
  if (!Array.isArray(names)) throw new ReductioError("INVALID_ARGUMENT", "script secretEnv must be an array of variable names")
  for (const name of names) {
    if (typeof name !== "string" || !ENV_NAME.test(name))
      throw new ReductioError("INVALID_ARGUMENT", `script secretEnv: ${JSON.stringify(name)} is not an environment variable name`)
    if (env !== undefined && Object.hasOwn(env, name))
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `script: ${name} is in both env (stored in plaintext) and secretEnv; keep it in secretEnv only`,
      )
  }
  return [...new Set(names)].sort()
}

/** Replaces output Files with plain specs (paths only); anything else is kept. */
function toSpec(value: unknown): unknown {
  if (isStagingDir(value)) return { [OUTPUT]: "stagedDir", local: value.local, remote: value.remote.path }
  if (isStagingFile(value)) {
    return { [OUTPUT]: "staged", local: value.local, remote: value.remote.path, contentHash: value.remote.contentHash }
  }
  if (isFile(value))
    return value.path === STDOUT ? { [OUTPUT]: "stdout" } : { [OUTPUT]: "file", path: value.path, contentHash: value.contentHash }
  if (Array.isArray(value)) return value.map(toSpec)
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, toSpec(v)]))
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toSpec(v)]))
  return value
}

const scriptTask = task(
  "script",
  async (command: string, inputs: unknown, outputs: unknown, config: ScriptConfig): Promise<unknown> => {
    const signal = currentSignal()
    const root = await mkdtemp(join(tmpdir(), "reductio-script-"))
    try {
      const work = config.cwd ?? join(root, "work")
      if (config.cwd === undefined) await mkdir(work)
      else await checkDirectory(config.cwd)
      await stageInputs(inputs, work)
      await runShell(command, config, root, work, signal)
      return await collectOutputs(outputs, root, work, command)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  },
  { namespace: "reductio", version: "1" },
)

/** Where a relative `cwd` starts: the workflow file's directory, else the working directory. */
function workflowDirectory(): string {
  const globals = globalThis as unknown as Record<symbol, unknown>
  const loaded = globals[WORKFLOW_KEY]
  if (typeof loaded === "string") return dirname(loaded)
  const entry = process.argv[1]
  return globals[MODE_KEY] !== "agent" && entry !== undefined ? dirname(resolve(entry)) : process.cwd()
}

async function checkDirectory(path: string): Promise<void> {
  const found = await stat(path).catch(() => undefined)
  if (found?.isDirectory() !== true) {
    throw new ReductioError("FILE_NOT_FOUND", `script cwd ${path} is not a directory`, { details: { uri: path } })
  }
}

async function stageInputs(inputs: unknown, work: string): Promise<void> {
  const staged: (StagingFile | StagingDir)[] = []
  walk(inputs, (value) => {
    if (!isStagingFile(value) && !isStagingDir(value)) return false
    staged.push(value)
    return true
  })
  await mapLimit(staged, STAGE_CONCURRENCY, async (staging) => {
    try {
      await staging.stageIn(work)
    } catch (error) {
      if ((error as ReductioError).code !== "FILE_NOT_FOUND") throw error
      throw new ReductioError("FILE_NOT_FOUND", `script input ${staging.remote.path} does not exist`, {
        cause: error,
        details: { uri: staging.remote.path, local: staging.local },
      })
    }
  })
}

async function collectOutputs(outputs: unknown, root: string, work: string, command: string): Promise<unknown> {
  const pending: { local: string; remote: File }[] = []
  const pendingDirs: { local: string; remote: Dir }[] = []
  const missing = (file: string) =>
    new ReductioError("OUTPUT_MISSING", `script did not write its output ${file}: ${firstLine(command)}`, {
      details: { file, task: SCRIPT_TASK, command },
    })
  const stdoutText = (await readFile(join(root, "stdout"))).toString("utf8")
  const resolveOutput = async (value: unknown): Promise<unknown> => {
    const spec = asSpec(value)
    if (spec === undefined) return mapContainer(value, resolveOutput)
    if (spec[OUTPUT] === "stdout") return stdoutText
    if (spec[OUTPUT] === "stagedDir") {
      const local = resolve(work, spec.local)
      if (!(await isDirectory(local))) throw missing(spec.local)
      const remote = new Dir(spec.remote)
      pendingDirs.push({ local, remote })
      return remote
    }
    if (spec[OUTPUT] === "file") {
      const file = new File(spec.path, { contentHash: spec.contentHash })
      if (!(await file.exists())) throw missing(spec.path)
      return file
    }
    const local = resolve(work, spec.local)
    if (!(await exists(local))) throw missing(spec.local)
    const remote = new File(spec.remote, { contentHash: spec.contentHash })
    pending.push({ local, remote })
    return remote
  }
  const result = await resolveOutput(outputs)
  await mapLimit(pending, STAGE_CONCURRENCY, ({ local, remote }) => new File(local).copyTo(remote))
  for (const { local, remote } of pendingDirs) await new Dir(remote.path).stage(local).stageOut()
  return result
}

/** An output spec (or a StagingFile / File that reached the task as a value) as a spec. */
function asSpec(value: unknown): OutputSpec | undefined {
  if (isStagingDir(value)) return { [OUTPUT]: "stagedDir", local: value.local, remote: value.remote.path }
  if (isStagingFile(value))
    return { [OUTPUT]: "staged", local: value.local, remote: value.remote.path, contentHash: value.remote.contentHash }
  if (isFile(value))
    return value.path === STDOUT ? { [OUTPUT]: "stdout" } : { [OUTPUT]: "file", path: value.path, contentHash: value.contentHash }
  if (isPlainObject(value) && typeof value[OUTPUT] === "string") return value as unknown as OutputSpec
  return undefined
}

async function mapContainer(value: unknown, fn: (item: unknown) => Promise<unknown>): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map(fn))
  if (value instanceof Map) return new Map(await Promise.all([...value].map(async ([k, v]) => [k, await fn(v)] as const)))
  if (isPlainObject(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await fn(v)] as const))
    return Object.fromEntries(entries)
  }
  return value
}

/** Visits values depth-first; `visit` returns true to stop descending into a value. */
function walk(value: unknown, visit: (value: unknown) => boolean): void {
  if (visit(value)) return
  if (Array.isArray(value) || value instanceof Set) for (const item of value) walk(item, visit)
  else if (value instanceof Map) for (const item of value.values()) walk(item, visit)
  else if (isPlainObject(value)) for (const item of Object.values(value)) walk(item, visit)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value) as object | null
  return proto === Object.prototype || proto === null
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  )
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
