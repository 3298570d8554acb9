/**
 * @module moto
 * Starts `moto_server` (the AWS emulator installed with the machine's Python) on a free port for a
 * test file, and stops it. When moto is not installed, {@link startMoto} returns a skip reason;
 * with `CI=true` it throws instead, so CI never silently skips the AWS tests.
 *
 * @example
 * const moto = await startMoto()
 * describe("S3", { skip: moto.skip }, () => { ... })
 * after(() => moto.stop())
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"

/** A running moto_server. */
export interface Moto {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string
  readonly region: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  /** The environment a subprocess needs to reach it with the SDK (AWS_ENDPOINT_URL and friends). */
  readonly env: Readonly<Record<string, string>>
  /** Wipes all emulated state (`POST /moto-api/reset`). */
  reset(): Promise<void>
  /** Stops the server (by its pid). Idempotent. */
  stop(): Promise<void>
}

/** What {@link startMoto} returns: a server, or the reason the tests must be skipped. */
export type MotoHandle = (Moto & { readonly skip: false }) | { readonly skip: string; stop(): Promise<void> }

/** True when moto is importable by the machine's Python. */
export function motoInstalled(): boolean {
  const probe = spawnSync("python3", ["-c", "import moto"], { stdio: "ignore" })
  return probe.status === 0
}

/** Starts moto_server on a free port; resolves once it answers. */
export async function startMoto(): Promise<MotoHandle> {
  if (!motoInstalled()) {
    const reason = "moto is not installed (python3 -c 'import moto' failed); install it to run the AWS tests"
    if (process.env["CI"] === "true") throw new Error(`CI=true and ${reason}`)
    return { skip: reason, stop: async () => undefined }
  }
  // The SDK's one-off Node 20 support notice is noise in test output.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", "0"], { stdio: ["ignore", "ignore", "pipe"] })
  const port = await portOf(child)
  const endpoint = `http://127.0.0.1:${port}`
  await waitReady(endpoint)
  const credentials = { accessKeyId: "testing", secretAccessKey: "testing" }
  return {
    skip: false,
    endpoint,
    region: "us-east-1",
    credentials,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      REDUCTIO_S3_FORCE_PATH_STYLE: "1",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" })
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`)
    },
    stop: () => stopChild(child),
  }
}

function portOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = ""
    const timer = setTimeout(() => fail(new Error(`moto_server did not report its port in 20 s; stderr: ${seen}`)), 20_000)
    const fail = (error: Error) => {
      clearTimeout(timer)
      child.kill()
      reject(error)
    }
    child.once("error", fail)
    child.once("exit", (code) => fail(new Error(`moto_server exited with ${code}; stderr: ${seen}`)))
    child.stderr?.setEncoding("utf8")
    child.stderr?.on("data", (chunk: string) => {
      seen += chunk
      const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(seen)
      if (match !== null) {
        clearTimeout(timer)
        child.removeAllListeners("exit")
        child.removeAllListeners("error")
        // Keep draining stderr (request logs) so the pipe never fills and blocks the server.
        child.stderr?.removeAllListeners("data")
        child.stderr?.resume()
        resolve(Number(match[1]))
      }
    })
  })
}

async function waitReady(endpoint: string): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`)
      if (response.ok) {
        await response.arrayBuffer()
        return
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`moto_server at ${endpoint} did not become ready in 20 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3_000)
    child.once("exit", () => {
      clearTimeout(force)
      resolve()
    })
    child.kill("SIGTERM")
  })
}

/** S3 client options that reach a running moto (path-style, as emulators need). */
export function s3Options(moto: Moto) {
  return { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true }
}

/** Creates a bucket with a fresh name starting with `prefix`; resolves to the name. */
export async function createBucket(moto: Moto, prefix: string): Promise<string> {
  const { CreateBucketCommand, S3Client } = await import("@aws-sdk/client-s3")
  const { randomBytes } = await import("node:crypto")
  const bucket = `${prefix}-${randomBytes(5).toString("hex")}`
  const client = new S3Client(s3Options(moto))
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
  } finally {
    client.destroy()
  }
  return bucket
}
