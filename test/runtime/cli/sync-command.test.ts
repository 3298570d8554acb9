import assert from "node:assert/strict"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, afterEach, beforeEach, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { createBucket, startMoto } from "../../support/moto.js"
import { type TempProject, tempProject } from "../../support/project.js"

const moto = await startMoto()
after(() => moto.stop())

/** The last line of stdout, parsed. */
function lastJson(stdout: string): unknown {
  const lines = stdout.trimEnd().split("\n")
  return JSON.parse(lines.at(-1) as string)
}

describe("reductio sync", { skip: moto.skip }, () => {
  let project: TempProject
  let bucket: string
  let env: NodeJS.ProcessEnv
  beforeEach(async () => {
    if (moto.skip !== false) return
    project = await tempProject("reductio-sync-cli-")
    bucket = await createBucket(moto, "cli-sync")
    env = { ...moto.env, REDUCTIO_CACHE_DIR: join(project.dir, ".cache") }
    await project.write("data/a.txt", "alpha")
    await project.write("data/sub/b.txt", "beta")
    await project.write("data/skip.tmp", "tmp")
  })
  afterEach(() => project?.remove())

  const sync = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(["sync", ...args], { cwd: project.dir, env: { ...env, ...extraEnv } })

  it("copies a local directory to S3, prints the counts as JSON, and copies nothing the second time", async () => {
    const first = await sync(["data", `s3://${bucket}/run`, "--json"])
    assert.equal(first.code, 0, first.stderr)
    assert.deepEqual(lastJson(first.stdout), { copied: 3, skipped: 0, deleted: 0, bytes: 12 })
    const second = await sync(["data", `s3://${bucket}/run`, "--json"])
    assert.deepEqual(lastJson(second.stdout), { copied: 0, skipped: 3, deleted: 0, bytes: 0 })
  })

  it("syncs S3 back to a local directory with --delete, --include and --exclude", async () => {
    assert.equal((await sync(["data", `s3://${bucket}/run`, "--json"])).code, 0)
    await project.write("back/stale.txt", "old")
    await project.write("back/keep.log", "kept: excluded from the sync")
    const result = await sync([`s3://${bucket}/run`, "back", "--delete", "--include", "*.txt", "--exclude", "sub/**", "--json"])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(lastJson(result.stdout), { copied: 1, skipped: 0, deleted: 1, bytes: 5 })
    assert.equal(await readFile(join(project.dir, "back", "a.txt"), "utf8"), "alpha")
    assert.equal(await readFile(join(project.dir, "back", "keep.log"), "utf8"), "kept: excluded from the sync")
  })

  it("prints what a dry run would do and changes nothing", async () => {
    await mkdir(join(project.dir, "target"))
    await writeFile(join(project.dir, "target", "extra.txt"), "x")
    const result = await sync(["data", "target", "--dry-run", "--delete"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^copy a\.txt \(missing\)$/m)
    assert.match(result.stdout, /^delete extra\.txt$/m)
    assert.match(result.stdout, /would copy 3 files \(12 B\), skipped 0 unchanged, would delete 1/)
    assert.equal(await readFile(join(project.dir, "target", "extra.txt"), "utf8"), "x")
  })

  it("prints a summary without --json, and no AWS SDK notice about the Node version", async () => {
    const result = await sync(["data", `s3://${bucket}/plain`], { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^copied 3 files \(12 B\), skipped 0 unchanged, deleted 0 in \d+\.\d s/m)
    assert.doesNotMatch(result.stderr, /NodeVersionSupportWarning|AWS SDK/)
    assert.doesNotMatch(result.stderr, /socket usage at capacity/)
  })

  it("takes the S3 endpoint and path style from reductio.config.ts", async () => {
    if (moto.skip !== false) return
    await project.write(
      "reductio.config.ts",
      `export default { s3: { endpoint: ${JSON.stringify(moto.endpoint)}, forcePathStyle: true, region: "us-east-1" } }\n`,
    )
    const result = await runCli(["sync", "data", `s3://${bucket}/configured`, "--json"], {
      cwd: project.dir,
      env: {
        ...moto.env,
        AWS_ENDPOINT_URL: undefined,
        REDUCTIO_S3_FORCE_PATH_STYLE: undefined,
        AWS_REGION: undefined,
        REDUCTIO_CACHE_DIR: env["REDUCTIO_CACHE_DIR"],
      },
    })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(lastJson(result.stdout), { copied: 3, skipped: 0, deleted: 0, bytes: 12 })
  })

  it("fails with a coded error and exit code for a missing source and a bad flag", async () => {
    const missing = await sync(["no-such-dir", `s3://${bucket}/x`, "--delete"])
    assert.equal(missing.code, 6)
    assert.match(missing.stderr, /\[FILE_NOT_FOUND\]/)
    const bad = await sync(["data", `s3://${bucket}/x`, "--concurrency", "lots"])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /\[INVALID_ARGUMENT\]/)
    const inside = await sync(["data", "data/inner"])
    assert.equal(inside.code, 2)
    assert.match(inside.stderr, /\[INVALID_ARGUMENT\]/)
  })
})
