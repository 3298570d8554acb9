/**
 * @module docker-cli
 * The docker CLI, spawned: build, tag, login (password on stdin, never in argv) and push. Which
 * binary runs is injectable (`--docker`, REDUCTIO_DOCKER), so podman works too and tests can use a
 * stand-in.
 */
import { spawn } from "node:child_process"
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
    build: ({ dockerfile, context, tag, platform }) =>
      run(["build", "--file", dockerfile, "--tag", tag, ...(platform === undefined ? [] : ["--platform", platform]), context]),
    tag: (source, target) => run(["tag", source, target]),
    login: (registry, username, password) => run(["login", "--username", username, "--password-stdin", registry], password),
    push: (image) => run(["push", image]),
  }
}

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
        new ReductioError("INVALID_ARGUMENT", `cannot run ${binary}: ${error.message} (install docker, or pass --docker <path>)`, {
          cause: error,
        }),
      ),
    )
    child.once("close", (code) => {
      if (partial !== "") log(partial)
      if (code === 0) resolve()
      else
        reject(
          new ReductioError("SERVICE_ERROR", `${binary} ${args[0]} exited with ${code}:\n${tail.trim()}`, {
            details: { command: args[0], exitCode: code },
          }),
        )
    })
  })
}
