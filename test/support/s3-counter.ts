/**
 * A counting proxy in front of moto's S3: every request passes through unchanged and is recorded
 * with its S3 operation (from method, query and headers) and object key, so a bench can report
 * requests by type and per object. Point clients (and subprocesses, through `AWS_ENDPOINT_URL`)
 * at `endpoint`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One request seen by the proxy. */
export interface S3Request {
  readonly operation: string
  readonly bucket: string
  readonly key: string
}

/** A running proxy. */
export interface S3Counter {
  readonly endpoint: string
  readonly requests: S3Request[]
  /** Forgets what was recorded so far. */
  reset(): void
  stop(): Promise<void>
}

/** Starts a proxy forwarding to `target` (moto's endpoint). */
export async function startS3Counter(target: string): Promise<S3Counter> {
  const upstream = new URL(target)
  const requests: S3Request[] = []
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    requests.push(classify(incoming))
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      },
    )
    forward.on("error", () => outgoing.destroy())
    incoming.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    reset: () => {
      requests.length = 0
    },
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The S3 operation of a path-style request. */
function classify(request: IncomingMessage): S3Request {
  const url = new URL(request.url ?? "/", "http://proxy")
  const [, bucket = "", ...rest] = url.pathname.split("/")
  const key = decodeURIComponent(rest.join("/"))
  const query = url.searchParams
  const copy = request.headers["x-amz-copy-source"] !== undefined
  const method = request.method ?? "?"
  const operation = (() => {
    if (method === "HEAD") return key === "" ? "HeadBucket" : "HeadObject"
    if (method === "GET") return query.get("list-type") === "2" ? "ListObjectsV2" : key === "" ? "ListObjects" : "GetObject"
    if (method === "PUT") {
      if (key === "") return "CreateBucket"
      if (query.has("partNumber")) return copy ? "UploadPartCopy" : "UploadPart"
      return copy ? "CopyObject" : "PutObject"
    }
    if (method === "POST") {
      if (query.has("uploads")) return "CreateMultipartUpload"
      if (query.has("uploadId")) return "CompleteMultipartUpload"
      if (query.has("delete")) return "DeleteObjects"
    }
    if (method === "DELETE") return query.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject"
    return method
  })()
  // A listing is attributed to its prefix.
  return { operation, bucket, key: operation.startsWith("List") ? (query.get("prefix") ?? "") : key }
}

/** Counts of `values` by value, keys sorted. */
export function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of [...values].sort()) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
