/**
 * @module docker-cli
 * The docker CLI, spawned: build, tag, login (password on stdin, never in argv) and push. Which
 * binary runs is injectable (`--docker`, REDUCTIO_DOCKER), so podman works too and tests can use a
 * stand-in. Several platforms (`linux/amd64,linux/arm64`) build one multi-platform image: with
 * `docker buildx build`, with podman as a manifest list (`--manifest`). A failure of the engine is
 * local (CONTAINER_ENGINE_FAILED, with a hint to podman when no docker daemon answers); only a push
 * or login the registry refuses is a SERVICE_ERROR.
 */
import { spawn } from "node:child_process"
import { basename } from "node:path"
import { ReductioError } from "../errors.js"

/** Runs docker commands; output goes to `log` line by line. */
export interface DockerCli {
  build(options: {
    readonly dockerfile: string
    readonly context: string
    readonly tag: string
    readonly platform?: string | undefined
  }): Promise<void>
  tag(source: string, target: string): Promise<void>
  login(registry: string, username: string, password: string): Promise<void>
  push(image: string): Promise<void>
}

/**
 * @example
 * const docker = dockerCli({ binary: "docker", log: (line) => process.stderr.write(`${line}\n`) })
 * await docker.build({ dockerfile: "docker/Dockerfile", context: ".", tag: "reductio-agent:0.1.0" })
 */
export function dockerCli(options: { readonly binary?: string; readonly log?: (line: string) => void } = {}): DockerCli {
  const binary = options.binary ?? "docker"
  const run = (args: readonly string[], stdin?: string) => runDocker(binary, args, stdin, options.log ?? (() => undefined))
  return {
    build: ({ dockerfile, context, tag, platform }) => run(buildArgs(binary, { dockerfile, context, tag, platform })),
    tag: (source, target) => run(["tag", source, target]),
    login: (registry, username, password) => run(["login", "--username", username, "--password-stdin", registry], password),
    push: (image) => run(["push", image]),
  }
}

/** One platform, as docker and podman name them: `os/arch` or `os/arch/variant`. */
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/

/** The argv of a build: plain for one platform (or none), multi-platform for several. */
export function buildArgs(
  binary: string,
  options: { readonly dockerfile: string; readonly context: string; readonly tag: string; readonly platform?: string | undefined },
): string[] {
  const { dockerfile, context, tag, platform } = options
  const platforms = platform === undefined ? [] : platform.split(",").map((part) => part.trim())
  const bad = platforms.find((part) => !PLATFORM.test(part))
  if (bad !== undefined) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `--platform ${JSON.stringify(platform)}: ${JSON.stringify(bad)} is not a platform (os/arch, e.g. linux/amd64,linux/arm64)`,
    )
  }
  const file = ["--file", dockerfile]
  if (platforms.length <= 1) return ["build", ...file, "--tag", tag, ...platforms.flatMap((part) => ["--platform", part]), context]
  const list = platforms.join(",")
  // podman keeps a multi-platform build as a manifest list; docker needs buildx for it.
  if (isPodman(binary)) return ["build", ...file, "--platform", list, "--manifest", tag, context]
  return ["buildx", "build", ...file, "--platform", list, "--tag", tag, context]
}

function isPodman(binary: string): boolean {
  return basename(binary).startsWith("podman")
}

/** What docker prints when its CLI finds no daemon. */
const NO_DAEMON = /Cannot connect to the Docker daemon|Is the docker daemon running|error during connect|docker daemon is not running/i

function runDocker(binary: string, args: readonly string[], stdin: string | undefined, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] })
    let tail = ""
    let partial = ""
    const onData = (chunk: Buffer) => {
      const text = partial + chunk.toString("utf8")
      const lines = text.split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) log(line)
      tail = (tail + chunk.toString("utf8")).slice(-2000)
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    if (stdin !== undefined) child.stdin?.end(stdin)
    child.once("error", (error) =>
      reject(
        new ReductioError(
          "CONTAINER_ENGINE_FAILED",
          `cannot run ${binary}: ${error.message} (install docker, or use podman: --docker podman or REDUCTIO_DOCKER=podman)`,
          { cause: error, details: { command: args[0] } },
        ),
      ),
    )
    child.once("close", (code) => {
      if (partial !== "") log(partial)
      if (code === 0) return resolve()
      const command = args[0] === "buildx" ? "buildx build" : args[0]
      const noDaemon = NO_DAEMON.test(tail)
      const hint = noDaemon ? "\nno docker daemon answers: start it, or use podman (--docker podman or REDUCTIO_DOCKER=podman)" : ""
      // A registry refusing a push or a login is the cloud's answer; anything else is the local engine.
      const remote = !noDaemon && (command === "push" || command === "login")
      reject(
        new ReductioError(
          remote ? "SERVICE_ERROR" : "CONTAINER_ENGINE_FAILED",
          `${binary} ${command} exited with ${code}:\n${tail.trim()}${hint}`,
          {
            details: { command, exitCode: code, ...(noDaemon ? { noDaemon: true } : {}) },
          },
        ),
      )
    })
  })
}
