import { randomBytes } from "node:crypto"
import assert from "node:assert/strict"
import { after, before, beforeEach, describe, it } from "node:test"
import { S3Storage } from "../../../runtime/storage/s3-storage.js"
import { createBucket, s3Options, startMoto } from "../../support/moto.js"
import { rejectsWith, storageConformance } from "./storage-conformance.js"

const moto = await startMoto()
after(() => moto.stop())
before(async () => {
  if (moto.skip === false) await moto.reset()
})

storageConformance(
  "S3Storage (moto)",
  async () => {
    if (moto.skip !== false) throw new Error(moto.skip)
    const options = s3Options(moto)
    const bucket = await createBucket(moto, "conformance")
    return {
      storage: new S3Storage(options),
      root: `s3://${bucket}/`,
      missingContainer: `s3://no-such-bucket-${randomBytes(4).toString("hex")}/key`,
      multipart: true,
    }
  },
  { skip: moto.skip },
)

/**
 * A fault-injecting proxy in front of moto: answers the first `failures` requests with `status` and
 * an S3 error body, then forwards to moto. The real SDK client talks to it.
 */
async function faultyProxy(target: string, fault: { failures: number; status: number; code: string }) {
  const { createServer } = await import("node:http")
  let seen = 0
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    seen++
    if (seen <= fault.failures) {
      response.writeHead(fault.status, { "content-type": "application/xml" })
      response.end(`<?xml version="1.0"?><Error><Code>${fault.code}</Code><Message>injected</Message></Error>`)
      return
    }
    const upstream = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: request.headers as Record<string, string>,
      body: chunks.length === 0 ? undefined : Buffer.concat(chunks),
    })
    const headers: Record<string, string> = {}
    upstream.headers.forEach((value, key) => {
      headers[key] = value
    })
    delete headers["content-encoding"]
    delete headers["transfer-encoding"]
    response.writeHead(upstream.status, headers)
    response.end(Buffer.from(await upstream.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe("S3Storage (faults and large objects)", { skip: moto.skip }, () => {
  let bucket: string
  beforeEach(async () => {
    if (moto.skip !== false) return
    bucket = await createBucket(moto, "faults")
  })

  const storageVia = (endpoint: string, maxAttempts: number) =>
    new S3Storage({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      forcePathStyle: true,
      maxAttempts,
    })

  for (const fault of [
    { status: 503, code: "SlowDown" },
    { status: 500, code: "InternalError" },
  ]) {
    it(`retries ${fault.code} (${fault.status}) with backoff and succeeds`, async () => {
      if (moto.skip !== false) return
      const proxy = await faultyProxy(moto.endpoint, { failures: 2, ...fault })
      try {
        await storageVia(proxy.endpoint, 4).writeBytes(`s3://${bucket}/retried`, "ok")
        assert.equal(proxy.requests(), 3)
        assert.equal(Buffer.from(await storageVia(moto.endpoint, 1).readBytes(`s3://${bucket}/retried`)).toString(), "ok")
      } finally {
        await proxy.close()
      }
    })
  }

  it("raises STORAGE_ERROR naming the URI once retries are exhausted", async () => {
    if (moto.skip !== false) return
    const proxy = await faultyProxy(moto.endpoint, { failures: 100, status: 503, code: "SlowDown" })
    try {
      await rejectsWith(storageVia(proxy.endpoint, 2).writeBytes(`s3://${bucket}/never`, "x"), "STORAGE_ERROR", `s3://${bucket}/never`)
    } finally {
      await proxy.close()
    }
  })

  it("maps AccessDenied to PERMISSION_DENIED", async () => {
    if (moto.skip !== false) return
    const proxy = await faultyProxy(moto.endpoint, { failures: 100, status: 403, code: "AccessDenied" })
    try {
      const storage = storageVia(proxy.endpoint, 1)
      await rejectsWith(storage.readBytes(`s3://${bucket}/secret`), "PERMISSION_DENIED", `s3://${bucket}/secret`)
      await rejectsWith(storage.stat(`s3://${bucket}/secret`), "PERMISSION_DENIED", `s3://${bucket}/secret`)
    } finally {
      await proxy.close()
    }
  })

  it("copies an object above the single-copy threshold part by part", async () => {
    if (moto.skip !== false) return
    const storage = new S3Storage({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
      forcePathStyle: true,
      partSize: 5 * 1024 * 1024,
      multipartCopyThreshold: 6 * 1024 * 1024,
    })
    const bytes = randomBytes(12 * 1024 * 1024 + 7)
    await storage.writeBytes(`s3://${bucket}/big`, bytes)
    await storage.copy(`s3://${bucket}/big`, `s3://${bucket}/big-copy`)
    const info = await storage.stat(`s3://${bucket}/big-copy`)
    assert.equal(info?.size, bytes.length)
    assert.match(info?.etag ?? "", /-3$/)
    assert.ok(Buffer.from(await storage.readBytes(`s3://${bucket}/big-copy`)).equals(bytes))
  })
})
