/**
 * script({ secretEnv }): secret values come from the environment where the script runs and never
 * reach the database, the scratch store or a hash. These specs grep every byte reductio wrote.
 */
import assert from "node:assert/strict"
import { createHash, randomBytes } from "node:crypto"
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { SqliteBackend } from "../../runtime/backend/sqlite-backend.js"
import { isReductioError, isTaskError } from "../../runtime/errors.js"
import type { Executor } from "../../runtime/executor/executor.js"
import { ProcessExecutor } from "../../runtime/executor/process-executor.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { script } from "../../runtime/script.js"
import { builtAgent, fixtureWorkflow, tempDir } from "../agent/agent-harness.js"

const NAME = "REDUCTIO_TEST_SECRET_TOKEN"

/** Prints the token's sha256 (not the token), then the token itself on stderr (masked in logs). */
const COMMAND = `printf %s "$${NAME}" | sha256sum | cut -c1-64; echo "using token $${NAME} now" >&2`
const FAILING = `echo "token $${NAME} rejected" >&2; exit 3`

/** Every file under `dir` (recursively), with its bytes. */
async function filesUnder(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const found: { path: string; bytes: Buffer }[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry)
    if ((await stat(path)).isFile()) found.push({ path, bytes: await readFile(path) })
  }
  return found
}

function assertNowhere(files: readonly { path: string; bytes: Buffer }[], secret: string): void {
  assert.ok(files.length > 0)
  for (const { path, bytes } of files) assert.equal(bytes.includes(secret), false, `${path} holds the secret`)
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

describe("script secretEnv", () => {
  let dir: string
  let secret: string
  before(async () => {
    dir = await tempDir("reductio-secrets-")
    secret = `tok-${randomBytes(12).toString("hex")}`
    process.env[NAME] = secret
  })
  after(() => {
    delete process.env[NAME]
  })

  for (const executor of ["local", "process"] as const) {
    it(`passes the host's value to the command on the ${executor} executor, and stores, hashes and logs none of it`, async () => {
      const home = join(dir, executor)
      const scratch = join(home, "scratch")
      const backend = new SqliteBackend(join(home, "reductio.db"))
      await backend.open()
      const executors: Record<string, Executor> =
        executor === "process"
          ? { process: new ProcessExecutor({ scratch, agentPath: await builtAgent(), workdir: join(home, "work") }) }
          : {}
      const scheduler = new Scheduler({ backend, executors, workflowPath: fixtureWorkflow })
      try {
        const options = { secretEnv: [NAME], executor }
        assert.equal((await scheduler.run(script(COMMAND, options))).trim(), sha256(secret))
        await assert.rejects(scheduler.run(script(FAILING, options)), (error: unknown) => {
          assert.ok(isTaskError(error), String(error))
          assert.match(error.message + JSON.stringify(error.record), /token \*\*\* rejected/)
          return true
        })
        // The value is not part of the cache key: another value finds the same call cached.
        process.env[NAME] = `${secret}-rotated`
        const jobsBefore = (await backend.listExecutions()).length
        assert.equal((await scheduler.run(script(COMMAND, options))).trim(), sha256(secret))
        const [latest] = await backend.listExecutions({ limit: 1 })
        assert.equal((await backend.listExecutions()).length, jobsBefore + 1)
        assert.deepEqual(
          (await backend.listJobs(latest?.id ?? "")).map((job) => job.status),
          ["CACHED"],
        )
      } finally {
        process.env[NAME] = secret
        await scheduler.stop()
        await backend.close()
      }
      // The database (with its WAL, closed now) and the scratch directory hold no copy.
      assertNowhere(await filesUnder(home), secret)
      if (executor === "process") {
        const logs = (await filesUnder(scratch)).filter((file) => file.path.endsWith("log"))
        assert.ok(logs.some((file) => file.bytes.toString("utf8").includes("using token *** now")))
      }
    })
  }

  it("fails with SECRET_MISSING naming the variable when it is not set where the script runs", async () => {
    delete process.env[NAME]
    try {
      await assert.rejects(new Scheduler().run(script("true", { secretEnv: [NAME] })), (error: unknown) => {
        assert.ok(isTaskError(error))
        assert.ok(isReductioError(error.cause, "SECRET_MISSING"))
        assert.equal(error.cause.details?.name, NAME)
        return true
      })
    } finally {
      process.env[NAME] = secret
    }
  })

  it("refuses a secretEnv name that is not a variable name, or that env also sets", () => {
    for (const options of [{ secretEnv: ["NOT A NAME"] }, { secretEnv: [NAME], env: { [NAME]: "plain" } }]) {
      assert.throws(
        () => script("true", options),
        (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    }
  })
})
