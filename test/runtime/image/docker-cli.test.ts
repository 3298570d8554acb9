import assert from "node:assert/strict"
import { chmod, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { before, describe, it } from "node:test"
import { exitCodeOf, isReductioError } from "../../../runtime/errors.js"
import { buildArgs, dockerCli } from "../../../runtime/image/docker-cli.js"
import { tempDir } from "../../agent/agent-harness.js"

/** A stand-in container CLI: records its argv, prints `output` and exits with `code`. */
async function standIn(dir: string, name: string, output: string, code: number): Promise<{ binary: string; argv: () => Promise<string> }> {
  const binary = join(dir, name)
  const record = join(dir, `${name}.argv`)
  await writeFile(binary, `#!/bin/sh\necho "$@" > '${record}'\necho '${output}' >&2\nexit ${code}\n`)
  await chmod(binary, 0o755)
  return { binary, argv: () => readFile(record, "utf8").then((text) => text.trim()) }
}

const build = { dockerfile: "docker/Dockerfile", context: ".", tag: "reductio-agent:1" }

describe("the docker CLI", () => {
  let dir: string
  before(async () => {
    dir = await tempDir("reductio-docker-")
  })

  it("builds several platforms with docker buildx, and as a manifest list with podman", async () => {
    const platform = "linux/amd64,linux/arm64"
    const docker = await standIn(dir, "docker", "ok", 0)
    await dockerCli({ binary: docker.binary }).build({ ...build, platform })
    assert.equal(await docker.argv(), `buildx build --file docker/Dockerfile --platform ${platform} --tag reductio-agent:1 .`)
    const podman = await standIn(dir, "podman", "ok", 0)
    await dockerCli({ binary: podman.binary }).build({ ...build, platform })
    assert.equal(await podman.argv(), `build --file docker/Dockerfile --platform ${platform} --manifest reductio-agent:1 .`)
    assert.deepEqual(buildArgs("docker", { ...build, platform: "linux/amd64" }).slice(-3), ["--platform", "linux/amd64", "."])
  })

  it("refuses a platform that is not os/arch (INVALID_ARGUMENT)", () => {
    assert.throws(
      () => buildArgs("docker", { ...build, platform: "linux/amd64,--privileged" }),
      (error) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("reports a missing engine as a local failure that names podman, not a cloud service (exit 7)", async () => {
    await assert.rejects(dockerCli({ binary: join(dir, "no-such-docker") }).build(build), (error) => {
      assert.ok(isReductioError(error, "CONTAINER_ENGINE_FAILED"))
      assert.notEqual(exitCodeOf(error), 7)
      assert.match((error as Error).message, /--docker podman/)
      return true
    })
  })

  it("hints at podman when no docker daemon answers, for a build and for a push", async () => {
    const docker = await standIn(
      dir,
      "docker-nodaemon",
      "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
      1,
    )
    for (const attempt of [
      () => dockerCli({ binary: docker.binary }).build(build),
      () => dockerCli({ binary: docker.binary }).push("x:1"),
    ]) {
      await assert.rejects(attempt(), (error) => {
        assert.ok(isReductioError(error, "CONTAINER_ENGINE_FAILED"))
        assert.equal((error as { details?: Record<string, unknown> }).details?.noDaemon, true)
        assert.match((error as Error).message, /--docker podman/)
        return true
      })
    }
  })

  it("keeps a push the registry refuses a SERVICE_ERROR", async () => {
    const docker = await standIn(dir, "docker-denied", "denied: requested access to the resource is denied", 1)
    await assert.rejects(dockerCli({ binary: docker.binary }).push("x:1"), (error) => isReductioError(error, "SERVICE_ERROR"))
  })
})
