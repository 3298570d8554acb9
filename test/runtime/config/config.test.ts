import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { validateConfig } from "../../../runtime/config/config.js"
import { isReductioError } from "../../../runtime/errors.js"

const batch = { type: "aws_batch", image: "agent:1", queue: "q", scratch: "s3://bucket/prefix" }

describe("validateConfig", () => {
  it("takes an aws_batch executor's secrets by variable name, with its execution role", () => {
    const config = {
      executors: {
        batch: {
          ...batch,
          secrets: { API_TOKEN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-token-AbCdEf" },
          executionRole: "arn:aws:iam::123456789012:role/BatchExecution",
        },
      },
    }
    assert.deepEqual(validateConfig(config, "reductio.config.ts"), config)
  })

  it("names the bad key of secrets that are not a map of variable names to ARNs", () => {
    for (const secrets of [{ "NOT A NAME": "arn:aws:ssm:eu-west-1:123456789012:parameter/x" }, { TOKEN: "" }, ["TOKEN"]]) {
      assert.throws(
        () => validateConfig({ executors: { batch: { ...batch, secrets } } }, "reductio.config.ts"),
        (error: unknown) =>
          isReductioError(error, "CONFIG_INVALID") && String(error.details?.key).startsWith("config.executors.batch.secrets"),
      )
    }
  })
  it("takes an aws_batch executor's local option as true, false or { scratch, engine, concurrency }", () => {
    for (const local of [true, false, { scratch: "tmp/scratch", engine: "podman", concurrency: 2 }]) {
      const config = { executors: { batch: { ...batch, local } } }
      assert.deepEqual(validateConfig(config, "reductio.config.ts"), config)
    }
  })

  it("names the bad key of a local option that is not one", () => {
    for (const [local, key] of [
      ["yes", "config.executors.batch.local"],
      [{ scratch: "s3://bucket/x" }, "config.executors.batch.local.scratch"],
      [{ concurrency: 0 }, "config.executors.batch.local.concurrency"],
      [{ image: "other:1" }, "config.executors.batch.local.image"],
    ] as const) {
      assert.throws(
        () => validateConfig({ executors: { batch: { ...batch, local } } }, "reductio.config.ts"),
        (error: unknown) => isReductioError(error, "CONFIG_INVALID") && error.details?.key === key,
      )
    }
  })

  it("takes a process executor's reuse setting, true or false only", () => {
    for (const reuse of [true, false]) {
      const config = { executors: { proc: { type: "process" as const, concurrency: 2, reuse } } }
      assert.deepEqual(validateConfig(config, "reductio.config.ts"), config)
    }
    assert.throws(
      () => validateConfig({ executors: { proc: { type: "process", reuse: "no" } } }, "reductio.config.ts"),
      (error: unknown) => isReductioError(error, "CONFIG_INVALID") && error.details?.key === "config.executors.proc.reuse",
    )
  })
})
