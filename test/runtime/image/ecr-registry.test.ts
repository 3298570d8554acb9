import assert from "node:assert/strict"
import { chmod, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr"
import { main } from "../../../runtime/cli/main.js"
import type { CliIo } from "../../../runtime/cli/io.js"
import { isReductioError } from "../../../runtime/errors.js"
import { EcrRegistry } from "../../../runtime/image/ecr-registry.js"
import { tempDir } from "../../agent/agent-harness.js"
import { type Moto, startMoto } from "../../support/moto.js"

const moto = await startMoto()
after(() => moto.stop())

/** The running server (only called inside the suite, which is skipped without moto). */
function live(): Moto {
  if (moto.skip !== false) throw new Error(moto.skip)
  return moto
}

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.v2+json",
  config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 7023, digest: `sha256:${"a".repeat(64)}` },
  layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: 32654, digest: `sha256:${"b".repeat(64)}` }],
})
/** The digest ECR gave the manifest (moto hashes its own serialization of it). */
let manifestDigest = ""

function captured(env: NodeJS.ProcessEnv): CliIo & { stdout: () => string; stderr: () => string } {
  let out = ""
  let err = ""
  return {
    out: (t) => (out += t),
    err: (t) => (err += t),
    isTTY: false,
    columns: 100,
    cwd: process.cwd(),
    env,
    stdout: () => out,
    stderr: () => err,
  }
}

describe("ECR (moto)", { skip: moto.skip }, () => {
  let client: ECRClient
  let ecr: EcrRegistry
  before(async () => {
    if (moto.skip !== false) return
    await moto.reset()
    const options = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials }
    client = new ECRClient(options)
    ecr = new EcrRegistry(options)
    await client.send(new CreateRepositoryCommand({ repositoryName: "agent" }))
    const put = await client.send(new PutImageCommand({ repositoryName: "agent", imageManifest: manifest, imageTag: "1.0" }))
    manifestDigest = put.image?.imageId?.imageDigest ?? ""
    assert.match(manifestDigest, /^sha256:[0-9a-f]{64}$/)
  })
  after(() => {
    client?.destroy()
    ecr?.close()
  })

  it("resolves a tag to its digest", async () => {
    assert.equal(await ecr.resolveDigest("agent", "1.0"), manifestDigest)
  })

  it("fails with NOT_FOUND for a missing tag or repository", async () => {
    await assert.rejects(ecr.resolveDigest("agent", "nope"), (error) => isReductioError(error, "NOT_FOUND"))
    await assert.rejects(ecr.resolveDigest("no-such-repo", "1.0"), (error) => isReductioError(error, "NOT_FOUND"))
  })

  it("logs in once and reuses the token even when its expiry is already past", async () => {
    const login = await ecr.login()
    assert.equal(login.username, "AWS")
    assert.ok(login.password.length > 0)
    assert.ok(login.renewAt.getTime() > Date.now(), "an expired expiresAt (moto's 2015) does not force a refresh loop")
    assert.equal(await ecr.login(), login)
  })

  it("creates a repository only when asked", async () => {
    await assert.rejects(ecr.repositoryUri("fresh"), (error) => isReductioError(error, "NOT_FOUND"))
    assert.match(await ecr.repositoryUri("fresh", { create: true }), /\/fresh$/)
    assert.match(await ecr.repositoryUri("fresh"), /\/fresh$/)
  })

  it("reductio image push logs docker in with the token on stdin, tags, pushes and prints the digest", async () => {
    const dir = await tempDir("reductio-docker-")
    const calls = join(dir, "calls.jsonl")
    const fakeDocker = join(dir, "docker")
    await writeFile(
      fakeDocker,
      `#!${process.execPath}\nconst fs = require("node:fs")\nconst stdin = process.argv[2] === "login" ? fs.readFileSync(0, "utf8") : ""\nfs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ argv: process.argv.slice(2), stdin }) + "\\n")\n`,
    )
    await chmod(fakeDocker, 0o755)
    const io = captured({ REDUCTIO_DOCKER: fakeDocker, AWS_REGION: live().region, ...credentialsEnv() })
    const code = await main(
      ["image", "push", "--repository", "agent", "--tag", "1.0", "--image", "local:dev", "--endpoint", live().endpoint, "--json"],
      io,
    )
    assert.equal(code, 0, io.stderr())
    const printed = JSON.parse(io.stdout()) as { digest: string; pinned: string; image: string }
    assert.equal(printed.digest, manifestDigest)
    assert.match(printed.pinned, new RegExp(`/agent@${manifestDigest}$`))
    const invoked = (await readFile(calls, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { argv: string[]; stdin: string })
    assert.deepEqual(
      invoked.map((call) => call.argv[0]),
      ["login", "tag", "push"],
    )
    const login = await ecr.login()
    assert.deepEqual(invoked[0]?.argv, ["login", "--username", "AWS", "--password-stdin", login.registry])
    assert.equal(invoked[0]?.stdin, login.password)
    assert.deepEqual(invoked[1]?.argv, ["tag", "local:dev", printed.image])
    assert.deepEqual(invoked[2]?.argv, ["push", printed.image])
  })

  it("reductio image resolve prints the pinned image", async () => {
    const io = captured({ AWS_REGION: live().region, ...credentialsEnv() })
    assert.equal(
      await main(["image", "resolve", "--repository", "agent", "--tag", "1.0", "--endpoint", live().endpoint], io),
      0,
      io.stderr(),
    )
    assert.match(io.stdout(), new RegExp(`/agent@${manifestDigest}\\n$`))
  })
})

function credentialsEnv(): Record<string, string> {
  const { credentials } = live()
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey }
}
