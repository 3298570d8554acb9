/**
 * @module container-launcher
 * Runs the agent in a local container engine (docker, or podman when docker is absent) instead of
 * a local process: what an `aws_batch` executor with `local: true` does, to try Batch jobs on one
 * machine. The container is what Batch would start: the same image and agent flags (its entrypoint
 * is `node agent.js`), `--init` so a SIGTERM reaches the agent, the call's vCPUs and memory as
 * limits, and the executor's environment and secrets passed by name (`-e NAME`, the value in the
 * engine's environment, never in its argv). The local scratch directory is bind-mounted at the same
 * path, so the agent's flags name the same files inside and out.
 */
import { spawn } from "node:child_process"
import { accessSync, constants } from "node:fs"
import { basename, delimiter, join } from "node:path"
import type { ErrorRecord } from "../errors.js"
import type { JobRequest } from "./executor.js"

/** How a {@link ProcessExecutor} starts one agent, and stops it. */
export interface AgentLauncher {
  /** The executor kind jobs record (e.g. `aws_batch`). */
  readonly kind: string
  /** The command that runs the agent with `agentArgs` for `job`. */
  command(agentArgs: readonly string[], job: JobRequest, env: NodeJS.ProcessEnv): LaunchCommand
  /** Stops what `command` started (before its process gets SIGTERM). */
  stop?(launched: LaunchCommand): Promise<void>
  /** The failure to report when the launch itself failed (could not spawn, or the engine's own exit code). */
  launchFailure?(exit: {
    readonly code: number | null
    readonly tail: string
    readonly spawnError?: Error | undefined
  }): ErrorRecord | undefined
}

/** A process to spawn. */
export interface LaunchCommand {
  readonly file: string
  readonly args: readonly string[]
  readonly env: NodeJS.ProcessEnv
  /** The container's name, for `stop`. */
  readonly name?: string
}

/** Options of a {@link containerLauncher}. */
export interface ContainerLauncherOptions {
  /** The engine binary; default REDUCTIO_DOCKER, else `docker`, else `podman` when docker is not on PATH. */
  readonly engine?: string | undefined
  /** The image of calls that name none. */
  readonly image: string
  /** The local scratch directory, bind-mounted at the same path. */
  readonly scratch: string
  /** Defaults of calls that set none: vCPUs and memory (MiB). */
  readonly vcpus?: number | undefined
  readonly memory?: number | undefined
  readonly gpus?: number | undefined
  /** Variables every container gets (their values go in the engine's environment). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** Secret variables by name: locally, their values come from the host's environment of the same name. */
  readonly secrets?: Readonly<Record<string, string>> | undefined
  readonly region?: string | undefined
}

/** What docker and podman exit with when the engine, not the container, failed (no daemon, no image). */
const ENGINE_EXIT = 125
/** Seconds `stop` gives the agent between SIGTERM and SIGKILL. */
const STOP_GRACE_SECONDS = 3
/** The host's AWS settings passed to the container by name, when set: S3 scratch, tasks that use AWS. */
const AWS_ENV = /^AWS_(REGION|DEFAULT_REGION|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|ENDPOINT_URL(_[A-Z0-9_]+)?)$/
const ENGINE_HINT = "install docker, or use podman (REDUCTIO_DOCKER=podman or executors.<name>.local.engine)"

/**
 * @example
 * const launcher = containerLauncher({ image: "reductio-agent:0.1.0", scratch: "/home/me/project/.reductio/scratch" })
 * const executor = new ProcessExecutor({ scratch: "/home/me/project/.reductio/scratch", launcher })
 */
export function containerLauncher(options: ContainerLauncherOptions, hostEnv: NodeJS.ProcessEnv = process.env): AgentLauncher {
  const engine = options.engine ?? hostEnv["REDUCTIO_DOCKER"] ?? defaultEngine(hostEnv)
  return {
    kind: "aws_batch",
    command: (agentArgs, job, env) => {
      const name = `reductio-${job.evalHash.slice(0, 16)}-${Math.random().toString(36).slice(2, 8)}`
      const { args, variables } = runArgs(engine, options, job, name, hostEnv)
      return { file: engine, args: [...args, ...agentArgs], env: { ...env, ...variables }, name }
    },
    stop: (launched) =>
      new Promise((resolveStop) => {
        if (launched.name === undefined) return resolveStop()
        // The `run` process also gets SIGTERM; a container already gone makes this exit non-zero, harmlessly.
        const child = spawn(engine, ["stop", "--time", String(STOP_GRACE_SECONDS), launched.name], { stdio: "ignore" })
        child.once("error", () => resolveStop())
        child.once("close", () => resolveStop())
      }),
    launchFailure: ({ code, tail, spawnError }) => {
      if (spawnError !== undefined) return engineFailure(`cannot run ${engine}: ${spawnError.message} (${ENGINE_HINT})`)
      if (code === ENGINE_EXIT) return engineFailure(`${engine} run exited with ${code}:\n${tail.trim()}`)
      return undefined
    },
  }
}

/** The `run` arguments before the agent's flags, and the variables the engine passes on by name. */
export function runArgs(
  engine: string,
  options: ContainerLauncherOptions,
  job: JobRequest,
  name: string,
  hostEnv: NodeJS.ProcessEnv,
): { args: string[]; variables: Record<string, string> } {
  const batch = job.options.batch
  const environment = { ...options.environment, ...batch?.environment }
  const secrets = { ...options.secrets, ...batch?.secrets }
  const variables: Record<string, string> = { ...environment }
  if (options.region !== undefined && hostEnv["AWS_REGION"] === undefined) variables["AWS_REGION"] = options.region
  const names = new Set([...Object.keys(variables), ...Object.keys(secrets)])
  for (const key of Object.keys(hostEnv)) if (AWS_ENV.test(key)) names.add(key)
  const vcpus = job.options.vcpus ?? options.vcpus ?? 1
  const memory = job.options.memory ?? options.memory ?? 2048
  const gpus = job.options.gpus ?? options.gpus ?? 0
  const image = typeof job.options.image === "string" ? job.options.image : options.image
  const args = [
    "run",
    "--rm",
    "--init",
    "--name",
    name,
    "--cpus",
    String(vcpus),
    "--memory",
    `${memory}m`,
    ...(gpus > 0 ? ["--gpus", String(gpus)] : []),
    // docker runs as root by default: files the agent writes in the bind mount would then be root's.
    // Rootless podman maps the container's root to the user already.
    ...(isPodman(engine) || process.getuid === undefined ? [] : ["--user", `${process.getuid()}:${process.getgid?.() ?? 0}`]),
    ...[...names].sort().flatMap((variable) => ["-e", variable]),
    "-v",
    `${options.scratch}:${options.scratch}`,
    image,
  ]
  return { args, variables }
}

function engineFailure(message: string): ErrorRecord {
  return { name: "ReductioError", message, code: "CONTAINER_ENGINE_FAILED" }
}

function isPodman(engine: string): boolean {
  return basename(engine).startsWith("podman")
}

/** `docker` when it is on PATH, else `podman` when it is, else `docker` (whose absence is then reported). */
function defaultEngine(env: NodeJS.ProcessEnv): string {
  const dirs = (env["PATH"] ?? "").split(delimiter).filter((dir) => dir !== "")
  const onPath = (binary: string) =>
    dirs.some((dir) => {
      try {
        accessSync(join(dir, binary), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
  if (onPath("docker")) return "docker"
  return onPath("podman") ? "podman" : "docker"
}
