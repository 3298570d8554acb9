import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { after, describe, it } from "node:test"
import { isReductioError } from "../../../runtime/errors.js"
import { LocalStorage } from "../../../runtime/storage/local-storage.js"
import { configureS3, parseS3Uri, s3Options, storageFor, useS3RegionIfUnset } from "../../../runtime/storage/storage-registry.js"

describe("storage registry", () => {
  after(() => configureS3({}))

  it("serves local paths and file:// URLs with LocalStorage", async () => {
    assert.ok((await storageFor("/tmp/x")) instanceof LocalStorage)
    assert.ok((await storageFor("relative/x")) instanceof LocalStorage)
    assert.ok((await storageFor("file:///tmp/x")) instanceof LocalStorage)
  })

  it("serves s3:// URIs with one shared S3 storage", async () => {
    const storage = await storageFor("s3://bucket/a")
    assert.equal(storage.scheme, "s3")
    assert.equal(await storageFor("s3://other/b"), storage)
  })

  it("refuses an unknown scheme", async () => {
    await assert.rejects(storageFor("gs://bucket/key"), (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"))
  })

  it("splits S3 URIs into bucket and key", () => {
    assert.deepEqual(parseS3Uri("s3://bucket/a/b.txt"), { bucket: "bucket", key: "a/b.txt" })
    assert.deepEqual(parseS3Uri("s3://bucket"), { bucket: "bucket", key: "" })
    assert.throws(
      () => parseS3Uri("/local"),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("reads S3 options from the environment, overridden by configureS3", () => {
    const env = {
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL: "http://general",
      AWS_ENDPOINT_URL_S3: "http://s3-only",
      REDUCTIO_S3_FORCE_PATH_STYLE: "1",
    }
    configureS3({})
    assert.deepEqual(s3Options(env), { region: "eu-west-1", endpoint: "http://s3-only", forcePathStyle: true })
    assert.deepEqual(s3Options({ AWS_ENDPOINT_URL: "http://general" }), { endpoint: "http://general" })
    // An empty variable is unset, like every reductio variable.
    assert.deepEqual(s3Options({ AWS_ENDPOINT_URL_S3: "", AWS_ENDPOINT_URL: "http://general", REDUCTIO_S3_FORCE_PATH_STYLE: "" }), {
      endpoint: "http://general",
    })
    configureS3({ region: "us-east-2", forcePathStyle: false, endpoint: undefined })
    assert.deepEqual(s3Options(env), { region: "us-east-2", endpoint: "http://s3-only", forcePathStyle: false })
  })

  it("takes an AWS executor's region for S3 when nothing else names one", () => {
    const saved = { AWS_REGION: process.env["AWS_REGION"], AWS_DEFAULT_REGION: process.env["AWS_DEFAULT_REGION"] }
    delete process.env["AWS_REGION"]
    delete process.env["AWS_DEFAULT_REGION"]
    try {
      configureS3({})
      useS3RegionIfUnset("ap-south-1")
      assert.equal(s3Options().region, "ap-south-1")
      useS3RegionIfUnset("eu-north-1")
      assert.equal(s3Options().region, "ap-south-1", "the first executor's region stays")
      assert.equal(s3Options({ AWS_REGION: "us-west-2" }).region, "us-west-2", "the environment wins")
      configureS3({ region: "eu-central-1" })
      useS3RegionIfUnset("ap-south-1")
      assert.equal(s3Options().region, "eu-central-1", "configured S3 options win")
    } finally {
      for (const [key, value] of Object.entries(saved)) if (value !== undefined) process.env[key] = value
      configureS3({})
    }
  })

  it("keeps the AWS SDK out of the package root and the kernel's file modules", () => {
    const probe = [
      'await import("./runtime/index.ts"); await import("./runtime/file.ts"); await import("./runtime/script.ts")',
      'const { createRequire } = await import("node:module")',
      "const cache = createRequire(import.meta.url).cache",
      'console.log(Object.keys(cache).filter((k) => k.includes("@aws-sdk")).length)',
    ].join(";")
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe], { encoding: "utf8" })
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stdout.trim(), "0")
  })
})
