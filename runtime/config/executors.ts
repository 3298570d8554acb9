/**
 * @module executors
 * Builds the executors a configuration names. Each kind's implementation loads only when a
 * configuration uses it, so the AWS SDKs stay unloaded for local runs.
 */
import { availableParallelism } from "node:os"
import { join, resolve } from "node:path"
import { ReductioError } from "../errors.js"
import type { Executor } from "../executor/executor.js"
import { LocalExecutor } from "../executor/local-executor.js"
import type { AwsBatchExecutorConfig, BatchLocalConfig, ExecutorConfig, ReductioConfig } from "./config.js"

type Factory = (config: ExecutorConfig, projectDir: string) => Promise<Executor>

const factories: Record<ExecutorConfig["type"], Factory> = {
  local: async (config) =>
    new LocalExecutor(config.type === "local" && config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
  process: async (config, projectDir) => {
    const { ProcessExecutor } = await import("../executor/process-executor.js")
    const options = config.type === "process" ? config : { concurrency: undefined, scratch: undefined, reuse: undefined }
    return new ProcessExecutor({
      concurrency: options.concurrency ?? availableParallelism(),
      scratch: resolve(projectDir, options.scratch ?? join(".reductio", "scratch")),
      ...(options.reuse === undefined ? {} : { reuse: options.reuse }),
    })
  },
  aws_batch: async (config, projectDir) => {
    const { AwsBatchExecutor } = await import("../executor/aws-batch-executor.js")
    if (config.type !== "aws_batch") throw new ReductioError("CONFIG_INVALID", "aws_batch factory given another executor's config")
    const { type: _type, local, ...options } = config
    if (local !== undefined && local !== false) return localBatchExecutor(config, local === true ? {} : local, projectDir)
    return new AwsBatchExecutor(options)
  },
  aws_glue: async (config, projectDir) => {
    const { AwsGlueExecutor } = await import("../executor/aws-glue-executor.js")
    if (config.type !== "aws_glue") throw new ReductioError("CONFIG_INVALID", "aws_glue factory given another executor's config")
    const { type: _type, nodeRuntime, ...options } = config
    return new AwsGlueExecutor({ ...options, nodeRuntime: resolve(projectDir, nodeRuntime) })
  },
}

/** An `aws_batch` executor's calls in local containers: the Batch agent protocol on a local scratch directory. */
async function localBatchExecutor(config: AwsBatchExecutorConfig, local: BatchLocalConfig, projectDir: string): Promise<Executor> {
  const { ProcessExecutor } = await import("../executor/process-executor.js")
  const { containerLauncher } = await import("../executor/container-launcher.js")
  const scratch = resolve(projectDir, local.scratch ?? join(".reductio", "scratch"))
  const launcher = containerLauncher({
    engine: local.engine,
    image: config.image,
    scratch,
    vcpus: config.vcpus,
    memory: config.memory,
    gpus: config.gpus,
    environment: config.environment,
    secrets: config.secrets,
    region: config.region,
  })
  return new ProcessExecutor({ concurrency: local.concurrency ?? availableParallelism(), scratch, launcher })
}

/**
 * The executors of a configuration, by name. `local` (in-process) and `process` (local agent
 * subprocesses) exist even when not configured.
 */
export async function createExecutors(config: ReductioConfig, projectDir: string): Promise<Record<string, Executor>> {
  const configured: Record<string, ExecutorConfig> = { local: { type: "local" }, process: { type: "process" }, ...config.executors }
  const executors: Record<string, Executor> = {}
  for (const [name, executorConfig] of Object.entries(configured)) {
    const create = () => factories[executorConfig.type](executorConfig, projectDir)
    // In-process execution costs nothing to create and sits on every local call's path.
    executors[name] = executorConfig.type === "local" ? await create() : lazyExecutor(create, executorConfig.type)
  }
  return executors
}

/** An executor created on first use, so unused configured executors cost nothing. */
function lazyExecutor(create: () => Promise<Executor>, kind: string): Executor {
  let instance: Promise<Executor> | undefined
  let created: Executor | undefined
  const get = () => {
    instance ??= create().then((executor) => (created = executor))
    return instance
  }
  return {
    kind,
    start: async (context) => (await get()).start?.(context),
    submit: (job) => (created === undefined ? get().then((executor) => executor.submit(job)) : created.submit(job)),
    idle: () => created?.idle?.(),
    stop: async () => created?.stop(),
  }
}
