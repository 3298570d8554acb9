import { randomBytes } from "node:crypto"
import assert from "node:assert/strict"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
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
async function faultyProxy(
  target: string,
  fault: { failures: number; status: number; code: string; tamper?: (body: Buffer, method: string, url: string) => Buffer | "cut" },
) {
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
    const body = Buffer.from(await upstream.arrayBuffer())
    const tampered = fault.tamper?.(body, request.method ?? "", request.url ?? "") ?? body
    response.writeHead(upstream.status, headers)
    if (tampered === "cut") {
      // Half the body, then the connection drops: a download broken off mid-way.
      response.write(body.subarray(0, body.length >> 1))
      setTimeout(() => response.destroy(), 20)
      return
    }
    response.end(tampered)
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

  const isObjectGet = (method: string, url: string, key: string) => method === "GET" && url.split("?")[0]?.endsWith(`/${key}`)

  it("retries a download whose connection drops mid-way, and verifies it", async () => {
    if (moto.skip !== false) return
    const bytes = randomBytes(3 * 1024 * 1024)
    await storageVia(moto.endpoint, 1).writeBytes(`s3://${bucket}/cut`, bytes)
    let cuts = 0
    const proxy = await faultyProxy(moto.endpoint, {
      failures: 0,
      status: 200,
      code: "",
      tamper: (body, method, url) => (isObjectGet(method, url, "cut") && cuts++ === 0 ? "cut" : body),
    })
    const dir = await mkdtemp(join(tmpdir(), "reductio-s3-cut-"))
    try {
      const written = await storageVia(proxy.endpoint, 1).download(`s3://${bucket}/cut`, join(dir, "cut.bin"))
      assert.equal(cuts, 2, "the first GET was broken off, the second went through")
      assert.ok((await readFile(join(dir, "cut.bin"))).equals(bytes))
      assert.equal(written.size, bytes.length)
    } finally {
      await proxy.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("raises TRANSFER_CORRUPT when downloaded bytes do not match the ETag, leaving no file", async () => {
    if (moto.skip !== false) return
    await storageVia(moto.endpoint, 1).writeBytes(`s3://${bucket}/flipped`, "the right bytes")
    const proxy = await faultyProxy(moto.endpoint, {
      failures: 0,
      status: 200,
      code: "",
      tamper: (body, method, url) => (isObjectGet(method, url, "flipped") ? Buffer.from(body.toString().replace("right", "wrong")) : body),
    })
    const dir = await mkdtemp(join(tmpdir(), "reductio-s3-flip-"))
    try {
      await rejectsWith(
        storageVia(proxy.endpoint, 1).download(`s3://${bucket}/flipped`, join(dir, "f")),
        "TRANSFER_CORRUPT",
        `s3://${bucket}/flipped`,
      )
      await assert.rejects(readFile(join(dir, "f")), { code: "ENOENT" })
    } finally {
      await proxy.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("raises TRANSFER_CORRUPT when S3 answers an upload with another ETag", async () => {
    if (moto.skip !== false) return
    const dir = await mkdtemp(join(tmpdir(), "reductio-s3-etag-"))
    try {
      // moto does not check Content-MD5: a body changed on the way in shows in the ETag it answers.
      const { createServer } = await import("node:http")
      const mangler = createServer(async (request, response) => {
        const chunks: Buffer[] = []
        for await (const chunk of request) chunks.push(chunk as Buffer)
        const body = Buffer.concat(chunks)
        if (request.method === "PUT" && body.length > 0) body[0] = (body[0] as number) ^ 0xff
        const upstream = await fetch(`${moto.endpoint}${request.url}`, {
          method: request.method,
          headers: request.headers as Record<string, string>,
          body: body.length === 0 ? undefined : body,
        })
        const headers: Record<string, string> = {}
        upstream.headers.forEach((value, key) => {
          headers[key] = value
        })
        delete headers["transfer-encoding"]
        response.writeHead(upstream.status, headers)
        response.end(Buffer.from(await upstream.arrayBuffer()))
      })
      await new Promise<void>((resolve) => mangler.listen(0, "127.0.0.1", resolve))
      const { port } = mangler.address() as { port: number }
      try {
        const local = join(dir, "up.txt")
        await writeFile(local, "some bytes")
        await rejectsWith(storageVia(`http://127.0.0.1:${port}`, 1).upload(local, `s3://${bucket}/mangled`), "TRANSFER_CORRUPT")
      } finally {
        await new Promise<void>((resolve) => mangler.close(() => resolve()))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("verifies a multipart download whose part size no uploader default explains", async () => {
    if (moto.skip !== false) return
    const odd = new S3Storage({ ...s3Options(moto), partSize: 6 * 1024 * 1024 + 4096 })
    const bytes = randomBytes(13 * 1024 * 1024)
    await odd.writeBytes(`s3://${bucket}/odd-parts`, bytes)
    const dir = await mkdtemp(join(tmpdir(), "reductio-s3-odd-"))
    try {
      const written = await new S3Storage(s3Options(moto)).download(`s3://${bucket}/odd-parts`, join(dir, "odd"))
      assert.match(written.etag ?? "", /-3$/)
      assert.ok((await readFile(join(dir, "odd"))).equals(bytes))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("keeps at most 2 × concurrency requests in flight for a burst, so the SDK never queues", async () => {
    if (moto.skip !== false) return
    const { createServer, request: forward } = await import("node:http")
    let inFlight = 0
    let most = 0
    const upstream = new URL(moto.endpoint)
    const counter = createServer((incoming, outgoing) => {
      inFlight++
      most = Math.max(most, inFlight)
      const onward = forward(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(outgoing)
          answer.on("end", () => inFlight--)
        },
      )
      incoming.pipe(onward)
    })
    await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", resolve))
    const { port } = counter.address() as { port: number }
    const storage = new S3Storage({ ...s3Options(moto), endpoint: `http://127.0.0.1:${port}`, concurrency: 4 })
    const warnings: unknown[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => warnings.push(args)
    try {
      await storage.writeBytes(`s3://${bucket}/burst`, "x")
      const stats = await Promise.all(Array.from({ length: 300 }, () => storage.stat(`s3://${bucket}/burst`)))
      assert.ok(stats.every((info) => info?.size === 1))
      const reads = await Promise.all(Array.from({ length: 100 }, () => storage.readBytes(`s3://${bucket}/burst`)))
      assert.equal(reads.length, 100)
    } finally {
      console.warn = warn
      counter.closeAllConnections()
      await new Promise<void>((resolve) => counter.close(() => resolve()))
    }
    assert.ok(most <= 8, `${most} requests were in flight at once`)
    assert.ok(most >= 2, "requests did run in parallel")
    assert.deepEqual(warnings, [])
  })
})
