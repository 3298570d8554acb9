/**
 * @module image-command
 * `reductio image build | push | resolve`: builds the agent image from docker/Dockerfile with the
 * docker CLI, pushes it to ECR (login through GetAuthorizationToken, password on stdin) and
 * resolves a tag to the digest job definitions should pin.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { Command } from "commander"
import { envValue } from "../env.js"
import { ReductioError, exitCodeOf } from "../errors.js"
import { type DockerCli, dockerCli } from "../image/docker-cli.js"
import { packageRoot, packageVersion } from "../package-root.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"

interface DockerFlags {
  docker?: string
}
interface EcrFlags {
  repository: string
  tag?: string
  region?: string
  endpoint?: string
  json?: boolean
}
interface BuildFlags extends DockerFlags {
  tag?: string
  platform?: string
}
interface PushFlags extends DockerFlags, EcrFlags {
  image?: string
  create?: boolean
}

const IMAGE_NAME = "reductio-agent"

export const registerImageCommand: CommandRegistration = (program, io, done) => {
  const image = program
    .command("image")
    .summary("build and push the agent image")
    .description("Build the agent image and push it to Amazon ECR.")
  const guard = (action: () => Promise<void>) => async () => {
    try {
      await action()
      done(0)
    } catch (error) {
      io.err(`${formatFailure(error)}\n`)
      done(exitCodeOf(error))
    }
  }
  image
    .command("build")
    .description("docker build the agent image from docker/Dockerfile (run npm run build first)")
    .option("--tag <image>", `image name and tag (default ${IMAGE_NAME}:<version>)`)
    .option(
      "--platform <platforms>",
      "target platforms, e.g. linux/amd64 or linux/amd64,linux/arm64 (multi-platform: docker buildx, or podman)",
    )
    .option("--docker <path>", "the docker CLI (env REDUCTIO_DOCKER; podman works)")
    .action((flags: BuildFlags) => guard(() => buildImage(io, flags))())
  ecrOptions(
    image
      .command("push")
      .description("push the agent image to ECR and print its digest")
      .option("--image <image>", `the local image (default ${IMAGE_NAME}:<version>)`)
      .option("--create", "create the repository when missing")
      .option("--docker <path>", "the docker CLI (env REDUCTIO_DOCKER; podman works)"),
  ).action((flags: PushFlags) => guard(() => pushImage(io, flags))())
  ecrOptions(image.command("resolve").description("print the digest an ECR tag points to")).action((flags: EcrFlags) =>
    guard(() => resolveImage(io, flags))(),
  )
}

function ecrOptions(command: Command): Command {
  return command
    .requiredOption("--repository <name>", "the ECR repository")
    .option("--tag <tag>", "the image tag (default: the reductio version)")
    .option("--region <region>", "AWS region (default: AWS_REGION)")
    .option("--endpoint <url>", "ECR endpoint (default: AWS_ENDPOINT_URL_ECR or AWS_ENDPOINT_URL)")
    .option("--json", "print JSON")
}

async function buildImage(io: CliIo, flags: BuildFlags): Promise<void> {
  const root = packageRoot()
  if (!existsSync(join(root, "agent/dist/agent.js"))) {
    throw new ReductioError("INVALID_ARGUMENT", "agent/dist/agent.js is missing: run npm run build first")
  }
  const tag = flags.tag ?? `${IMAGE_NAME}:${packageVersion()}`
  await docker(io, flags).build({ dockerfile: join(root, "docker/Dockerfile"), context: root, tag, platform: flags.platform })
  io.out(`${tag}\n`)
}

async function pushImage(io: CliIo, flags: PushFlags): Promise<void> {
  const version = packageVersion()
  const tag = flags.tag ?? version
  const local = flags.image ?? `${IMAGE_NAME}:${version}`
  const ecr = await registry(io, flags)
  try {
    const repositoryUri = await ecr.repositoryUri(flags.repository, { create: flags.create === true })
    const login = await ecr.login()
    const cli = docker(io, flags)
    await cli.login(login.registry, login.username, login.password)
    const remote = `${repositoryUri}:${tag}`
    await cli.tag(local, remote)
    await cli.push(remote)
    const digest = await ecr.resolveDigest(flags.repository, tag)
    printImage(io, flags, { image: remote, digest, pinned: `${repositoryUri}@${digest}` })
  } finally {
    ecr.close()
  }
}

async function resolveImage(io: CliIo, flags: EcrFlags): Promise<void> {
  const tag = flags.tag ?? packageVersion()
  const ecr = await registry(io, flags)
  try {
    const repositoryUri = await ecr.repositoryUri(flags.repository)
    const digest = await ecr.resolveDigest(flags.repository, tag)
    printImage(io, flags, { image: `${repositoryUri}:${tag}`, digest, pinned: `${repositoryUri}@${digest}` })
  } finally {
    ecr.close()
  }
}

function printImage(io: CliIo, flags: { json?: boolean }, image: { image: string; digest: string; pinned: string }): void {
  io.out(flags.json === true ? `${JSON.stringify(image, null, 2)}\n` : `${image.pinned}\n`)
}

async function registry(io: CliIo, flags: EcrFlags) {
  const { EcrRegistry } = await import("../image/ecr-registry.js")
  return new EcrRegistry({
    region: flags.region ?? envValue(io.env, "AWS_REGION") ?? envValue(io.env, "AWS_DEFAULT_REGION"),
    endpoint: flags.endpoint ?? envValue(io.env, "AWS_ENDPOINT_URL_ECR") ?? envValue(io.env, "AWS_ENDPOINT_URL"),
    credentials: credentialsFrom(io.env),
  })
}

/** Static credentials from the CLI's environment; otherwise the SDK's own provider chain. */
function credentialsFrom(env: NodeJS.ProcessEnv) {
  const accessKeyId = env["AWS_ACCESS_KEY_ID"]
  const secretAccessKey = env["AWS_SECRET_ACCESS_KEY"]
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined
  return { accessKeyId, secretAccessKey, sessionToken: env["AWS_SESSION_TOKEN"] }
}

function docker(io: CliIo, flags: DockerFlags): DockerCli {
  return dockerCli({ binary: flags.docker ?? envValue(io.env, "REDUCTIO_DOCKER") ?? "docker", log: (line) => io.err(`${line}\n`) })
}
