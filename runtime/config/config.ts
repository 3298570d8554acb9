/**
 * @module config
 * The typed shape of `reductio.config.ts`, `defineConfig`, and its validation: checked once, with
 * errors that name the bad key.
 */
import { ReductioError } from "../errors.js"
import { BATCH_OPTION_NAMES, type BatchJobOptions, checkBatchOptions, checkPlacement } from "../executor/batch/batch-options.js"
import type { CallOptions } from "../expression.js"
import { checkRoutes, type Route } from "./routes.js"

/** In-process execution (the default `local` executor). */
export interface LocalExecutorConfig {
  readonly type: "local"
  /** Task functions in flight at once; default unlimited. */
  readonly concurrency?: number
}

/** Local agent subprocesses against a local scratch directory (the Batch protocol, no cloud). */
export interface ProcessExecutorConfig {
  readonly type: "process"
  /** Agent processes at once; default: the number of cores. */
  readonly concurrency?: number
  /** Scratch directory; default `.reductio/scratch` in the project. */
  readonly scratch?: string
  /**
   * Reuse agent processes (workers that run one call after another, loading the bundle once);
   * default true. false: a fresh agent process per call (a task's `freshProcess: true` gets one
   * either way).
   */
  readonly reuse?: boolean
}

/**
 * AWS Batch, with fan-outs grouped into array jobs. The {@link BatchJobOptions} (Fargate, roles,
 * environment, secrets, volumes, priority, tags, `jobDefinitionExtra`) are every job's defaults;
 * a task's or a call's `batch` option refines them.
 */
export interface AwsBatchExecutorConfig extends Omit<BatchJobOptions, "queue" | "role" | "tags" | "secrets" | "executionRole"> {
  readonly type: "aws_batch"
  /** Agent image (a tag is resolved to its digest). */
  readonly image: string
  /** Job queue name or ARN. */
  readonly queue: string
  /** `s3://bucket/prefix` for code, inputs, outputs and logs. */
  readonly scratch: string
  readonly role?: string
  readonly vcpus?: number
  /** MiB. */
  readonly memory?: number
  readonly gpus?: number
  /** Seconds. */
  readonly timeout?: number
  readonly retries?: number
  readonly arrayMinSize?: number
  readonly arrayMaxSize?: number
  /** Seconds registration and SubmitJob retry throttling and server errors before failing (default 600). */
  readonly submitDeadline?: number
  readonly tags?: Readonly<Record<string, string>>
  readonly region?: string
  /**
   * Secret variables the containers get: name → Secrets Manager secret or SSM parameter ARN,
   * resolved by Batch when a container starts (never stored by reductio).
   */
  readonly secrets?: Readonly<Record<string, string>>
  /** The execution role Batch reads `secrets` with (and, on Fargate, pulls the image with). */
  readonly executionRole?: string
  /**
   * Run this executor's calls in a local container engine instead of AWS Batch (`reductio run
   * --executor-local NAME` sets it for one run): `true`, or where the local scratch goes and which
   * engine runs. See {@link BatchLocalConfig}.
   */
  readonly local?: boolean | BatchLocalConfig
}

/** How an `aws_batch` executor runs its calls locally (its `local` option). */
export interface BatchLocalConfig {
  /** Local scratch directory, bind-mounted at the same path; default `.reductio/scratch` in the project. */
  readonly scratch?: string
  /** The container engine binary; default REDUCTIO_DOCKER, else `docker`, else `podman` when docker is not on PATH. */
  readonly engine?: string
  /** Containers at once; default: the number of cores. */
  readonly concurrency?: number
}

/** AWS Glue, through the Python shim. */
export interface AwsGlueExecutorConfig {
  readonly type: "aws_glue"
  readonly scratch: string
  readonly role: string
  readonly workerType?: string
  readonly workers?: number
  readonly glueVersion?: string
  /** Minutes. */
  readonly timeout?: number
  readonly region?: string
  /**
   * The Node linux-x64 tarball the Glue workers run the agent with (`node-v20.x-linux-x64.tar.xz`
   * from nodejs.org; relative to the project), uploaded once to `<scratch>/runtime/`.
   */
  readonly nodeRuntime: string
  /** Runs of the Glue job at once (Glue's MaxConcurrentRuns); default 10. */
  readonly maxConcurrentRuns?: number
}

export type ExecutorConfig = LocalExecutorConfig | ProcessExecutorConfig | AwsBatchExecutorConfig | AwsGlueExecutorConfig

/** S3 client options (credentials come from the standard AWS chain). */
export interface S3Config {
  readonly region?: string
  /** A custom endpoint (MinIO, an emulator). */
  readonly endpoint?: string
  /** Path-style URLs (`endpoint/bucket/key`), needed by most emulators. */
  readonly forcePathStyle?: boolean
  /** S3 requests in flight at once (default 32); the SDK's socket pool is sized to match. */
  readonly concurrency?: number
  /** Bytes per part of multipart uploads (default 8 MiB; at least 5 MiB). */
  readonly partSize?: number
  /** Objects of at least this many bytes are uploaded in parts (default: the part size). */
  readonly multipartThreshold?: number
}

/** The contents of `reductio.config.ts`. */
export interface ReductioConfig {
  /** A SQLite path (relative to the project) or a `postgres://` URL; default `.reductio/reductio.db`. */
  readonly database?: string
  /** Executors by name, e.g. `{ batch: { type: "aws_batch", ... } }`. */
  readonly executors?: Readonly<Record<string, ExecutorConfig>>
  /** The executor of tasks that name none; default `local`. */
  readonly defaultExecutor?: string
  /** Named concurrency limits, e.g. `{ db: 2 }`. */
  readonly limits?: Readonly<Record<string, number>>
  readonly s3?: S3Config
  /** The context task bodies read with `getContext("tool.param", fallback)`: nested plain data. */
  readonly context?: Readonly<Record<string, unknown>>
  /** Option overrides by task name for every call (executor, memory, image, retries, ...). */
  readonly tasks?: Readonly<Record<string, CallOptions>>
  /**
   * Routing rules, tried in order on each task's name: the first match sets the task's executor,
   * image, queue, resources and retries over its declared options (call sites and `tasks` still
   * win). A profile's rules are tried before the file's. See {@link Route}.
   */
  readonly routes?: readonly Route[]
  /**
   * Named sets of overrides selected with `--profile NAME` (several: `--profile aws,big`, applied
   * in order): each may set any key above; executors and tasks merge by name, context deeply.
   */
  readonly profiles?: Readonly<Record<string, Omit<ReductioConfig, "profiles">>>
  /**
   * Call leases between hosts sharing the database (default true): a call another run is
   * executing is waited for, not run twice. `false` for a database only one run uses at a time.
   */
  readonly callLeases?: boolean
  /** How often a run renews its execution row and call leases, and after how long they expire. */
  readonly heartbeat?: HeartbeatConfig
}

/** Heartbeat timing, in seconds (defaults 5 and 30; the expiry at least twice the interval). */
export interface HeartbeatConfig {
  readonly intervalSeconds?: number
  readonly expirySeconds?: number
}

/**
 * Types a configuration file's default export.
 *
 * @example
 * // reductio.config.ts
 * import { defineConfig } from "reductio-workflow"
 * export default defineConfig({ database: ".reductio/reductio.db", limits: { db: 2 } })
 */
export function defineConfig(config: ReductioConfig): ReductioConfig {
  return config
}

type Check = (value: unknown, key: string) => void

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

function fail(source: string, key: string, problem: string): never {
  throw new ReductioError("CONFIG_INVALID", `${source}: ${key} ${problem}`, { details: { key, source } })
}

function checker(source: string) {
  const string: Check = (value, key) => {
    if (typeof value !== "string" || value === "") fail(source, key, `must be a non-empty string (got ${JSON.stringify(value)})`)
  }
  const positiveInteger: Check = (value, key) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
      fail(source, key, `must be a positive integer (got ${JSON.stringify(value)})`)
  }
  const nonNegativeInteger: Check = (value, key) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
      fail(source, key, `must be a whole number ≥ 0 (got ${JSON.stringify(value)})`)
  }
  const positiveNumber: Check = (value, key) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
      fail(source, key, `must be a positive number (got ${JSON.stringify(value)})`)
  }
  const boolean: Check = (value, key) => {
    if (typeof value !== "boolean") fail(source, key, `must be true or false (got ${JSON.stringify(value)})`)
  }
  const stringMap: Check = (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object of strings")
    for (const [k, v] of Object.entries(value)) string(v, `${key}.${k}`)
  }
  const envMap: Check = (value, key) => {
    stringMap(value, key)
    for (const name of Object.keys(value as object))
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(source, `${key}.${name}`, "is not an environment variable name")
  }
  const object =
    (fields: Record<string, Check>, required: readonly string[] = []): Check =>
    (value, key) => {
      if (!isObject(value)) fail(source, key, "must be an object")
      for (const name of required) if (value[name] === undefined) fail(source, `${key}.${name}`, "is required")
      for (const [name, field] of Object.entries(value)) {
        const check = fields[name]
        if (check === undefined) fail(source, `${key}.${name}`, `is not a known option; known: ${Object.keys(fields).join(", ")}`)
        if (field !== undefined) check(field, `${key}.${name}`)
      }
    }
  return { string, positiveInteger, positiveNumber, nonNegativeInteger, boolean, stringMap, envMap, object }
}

/**
 * Checks a configuration object; throws CONFIG_INVALID naming the first bad key.
 * `source` names where it came from (the file path) for the message.
 */
export function validateConfig(raw: unknown, source: string): ReductioConfig {
  const c = checker(source)
  const batchFail = (key: string, problem: string): never => fail(source, key, problem)
  const batchOption: Check = (value, key) => {
    const dot = key.lastIndexOf(".")
    checkBatchOptions({ [key.slice(dot + 1)]: value }, key.slice(0, dot), batchFail)
  }
  const batchOptions = Object.fromEntries(BATCH_OPTION_NAMES.map((name) => [name, batchOption]))
  const executorChecks: Record<ExecutorConfig["type"], Check> = {
    local: c.object({ type: c.string, concurrency: c.positiveInteger }),
    process: c.object({ type: c.string, concurrency: c.positiveInteger, scratch: c.string, reuse: c.boolean }),
    aws_batch: (value, key) => {
      c.object(
        {
          ...batchOptions,
          type: c.string,
          image: c.string,
          queue: c.string,
          scratch: c.string,
          vcpus: c.positiveNumber,
          memory: c.positiveInteger,
          gpus: c.nonNegativeInteger,
          timeout: c.positiveInteger,
          retries: c.nonNegativeInteger,
          arrayMinSize: c.positiveInteger,
          arrayMaxSize: c.positiveInteger,
          submitDeadline: c.positiveInteger,
          region: c.string,
          local: (local, at) => {
            if (typeof local === "boolean") return
            if (!isObject(local)) fail(source, at, "must be true, false or { scratch, engine, concurrency }")
            c.object({ scratch: c.string, engine: c.string, concurrency: c.positiveInteger })(local, at)
            if (typeof local.scratch === "string" && local.scratch.startsWith("s3://"))
              fail(source, `${at}.scratch`, "must be a local directory (the containers bind-mount it)")
          },
        },
        ["image", "queue", "scratch"],
      )(value, key)
      const executor = value as AwsBatchExecutorConfig
      const resources = { vcpus: executor.vcpus ?? 1, memory: executor.memory ?? 2048, gpus: executor.gpus ?? 0 }
      checkPlacement(executor as BatchJobOptions, resources, (at, problem) => fail(source, `${key}.${at}`, problem))
    },
    aws_glue: c.object(
      {
        type: c.string,
        scratch: c.string,
        role: c.string,
        workerType: c.string,
        workers: c.positiveInteger,
        glueVersion: c.string,
        timeout: c.positiveInteger,
        region: c.string,
        nodeRuntime: c.string,
        maxConcurrentRuns: c.positiveInteger,
      },
      ["scratch", "role", "nodeRuntime"],
    ),
  }
  const executors: Check = (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object of executors by name")
    for (const [name, executor] of Object.entries(value)) {
      const type = isObject(executor) ? executor.type : undefined
      const check = typeof type === "string" ? executorChecks[type as ExecutorConfig["type"]] : undefined
      if (check === undefined)
        fail(source, `${key}.${name}.type`, `must be one of ${Object.keys(executorChecks).join(", ")} (got ${JSON.stringify(type)})`)
      check(executor, `${key}.${name}`)
    }
  }
  const limits: Check = (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object of limits by name, e.g. { db: 2 }")
    for (const [name, limit] of Object.entries(value)) c.positiveInteger(limit, `${key}.${name}`)
  }
  const fields: Record<string, Check> = {
    database: c.string,
    executors,
    defaultExecutor: c.string,
    limits,
    s3: c.object({
      region: c.string,
      endpoint: c.string,
      forcePathStyle: c.boolean,
      concurrency: c.positiveInteger,
      partSize: c.positiveInteger,
      multipartThreshold: c.positiveInteger,
    }),
    callLeases: c.boolean,
    heartbeat: c.object({ intervalSeconds: c.positiveNumber, expirySeconds: c.positiveNumber }),
    context: plainData(source),
    tasks: taskOptionsCheck(source),
    routes: (value, key) => checkRoutes(value, key, undefined, (at, problem) => fail(source, at, problem)),
  }
  const profiles: Check = (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object of profiles by name")
    for (const [name, profile] of Object.entries(value)) c.object(fields)(profile, `${key}.${name}`)
  }
  const top = c.object({ ...fields, profiles })
  if (raw === undefined || raw === null) return {}
  top(raw, "config")
  const config = raw as ReductioConfig
  const { intervalSeconds = 5, expirySeconds = Math.max(30, 6 * intervalSeconds) } = config.heartbeat ?? {}
  if (expirySeconds < 2 * intervalSeconds)
    fail(source, "config.heartbeat.expirySeconds", `must be at least twice intervalSeconds (${intervalSeconds})`)
  // `local` and `process` exist without configuration (see createExecutors).
  const names = [...new Set(["local", "process", ...Object.keys(config.executors ?? {})])]
  if (config.defaultExecutor !== undefined && !names.includes(config.defaultExecutor)) {
    fail(source, "config.defaultExecutor", `names executor "${config.defaultExecutor}", which is not defined; defined: ${names.join(", ")}`)
  }
  const routeFail = (at: string, problem: string): never => fail(source, at, problem)
  if (config.routes !== undefined) checkRoutes(config.routes, "config.routes", names, routeFail)
  for (const [name, profile] of Object.entries(config.profiles ?? {})) {
    const withProfile = [...new Set([...names, ...Object.keys(profile.executors ?? {})])]
    if (profile.routes !== undefined) checkRoutes(profile.routes, `config.profiles.${name}.routes`, withProfile, routeFail)
  }
  return config
}

/** Context values: plain JSON-like data (objects, arrays, strings, numbers, booleans, null). */
function plainData(source: string): Check {
  const check: Check = (value, key) => {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) return
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) check(item, `${key}[${i}]`)
      return
    }
    if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype)
      fail(source, key, `must be plain data (objects, arrays, strings, numbers, booleans); got ${typeof value}`)
    for (const [name, item] of Object.entries(value)) check(item, `${key}.${name}`)
  }
  return (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object, e.g. { bwa: { threads: 8 } }")
    check(value, key)
  }
}

/** The option overrides a task may get for a run: names and types of the call options. */
export const TASK_OPTION_KINDS: Readonly<Record<string, "string" | "integer" | "number" | "boolean" | "limits" | "batch">> = {
  executor: "string",
  image: "string",
  memory: "number",
  vcpus: "number",
  gpus: "integer",
  timeout: "number",
  retries: "integer",
  cache: "boolean",
  limits: "limits",
  batch: "batch",
}

/** Why a task option override is not valid, or undefined when it is. */
export function taskOptionProblem(option: string, value: unknown): string | undefined {
  const kind = TASK_OPTION_KINDS[option]
  if (kind === undefined) return `is not a task option; known: ${Object.keys(TASK_OPTION_KINDS).join(", ")}`
  if (kind === "batch") return batchOptionsProblem(value)
  const ok =
    kind === "string"
      ? typeof value === "string" && value !== ""
      : kind === "boolean"
        ? typeof value === "boolean"
        : kind === "limits"
          ? (Array.isArray(value) && value.every((item) => typeof item === "string")) ||
            (isObject(value) && Object.values(value).every((n) => typeof n === "number" && Number.isInteger(n) && n > 0))
          : typeof value === "number" && Number.isFinite(value) && value >= 0 && (kind !== "integer" || Number.isInteger(value))
  return ok
    ? undefined
    : `must be ${kind === "limits" ? "a list of limit names or an object of counts" : `a ${kind === "integer" ? "whole number ≥ 0" : kind === "number" ? "number ≥ 0" : kind}`} (got ${JSON.stringify(value)})`
}

function batchOptionsProblem(value: unknown): string | undefined {
  try {
    checkBatchOptions(value, "batch", (key, problem) => {
      throw new ReductioError("CONFIG_INVALID", `${key.slice("batch.".length) || "batch"} ${problem}`)
    })
    return undefined
  } catch (error) {
    return `is not valid: ${(error as Error).message}`
  }
}

function taskOptionsCheck(source: string): Check {
  return (value, key) => {
    if (!isObject(value)) fail(source, key, "must be an object of option overrides by task name, e.g. { align: { memory: 8192 } }")
    for (const [name, options] of Object.entries(value)) {
      if (!isObject(options)) fail(source, `${key}.${name}`, "must be an object of task options")
      for (const [option, setting] of Object.entries(options)) {
        const problem = taskOptionProblem(option, setting)
        if (problem !== undefined) fail(source, `${key}.${name}.${option}`, problem)
      }
    }
  }
}
