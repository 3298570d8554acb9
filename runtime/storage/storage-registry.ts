/**
 * @module storage-registry
 * Resolves a URI to the {@link Storage} that serves it, and holds the S3 client options. Local
 * paths get the shared `LocalStorage`; `s3://` URIs get an `S3Storage`, whose module (and the AWS
 * SDK) is loaded by dynamic import on first use, so this file is safe in the agent's kernel.
 *
 * S3 options come from, in increasing precedence: the environment (`AWS_REGION`,
 * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `REDUCTIO_S3_FORCE_PATH_STYLE=1`), then
 * {@link configureS3} (called by config loading or by a test). Credentials come from the SDK's
 * standard chain unless given.
 */
import { envValue } from "../env.js"
import { ReductioError } from "../errors.js"
import { LocalStorage } from "./local-storage.js"
import type { Storage } from "./storage.js"

/** How to reach S3. Everything is optional: the SDK's defaults and standard chain fill the rest. */
export interface S3Options {
  readonly region?: string | undefined
  /** An S3-compatible endpoint (moto, MinIO, a VPC endpoint), e.g. `http://127.0.0.1:5000`. */
  readonly endpoint?: string | undefined
  /** Path-style addressing (`endpoint/bucket/key`); needed by most emulators. */
  readonly forcePathStyle?: boolean | undefined
  /** Static credentials; by default the SDK's standard provider chain. */
  readonly credentials?:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined }
    | undefined
  /** Tries per call, retries included, with backoff and jitter (default 6). */
  readonly maxAttempts?: number | undefined
  /**
   * Requests in flight at once (default 32); as many response bodies may be read besides, and the
   * SDK's socket pool is sized to the sum.
   */
  readonly concurrency?: number | undefined
  /** Bytes per part of a multipart upload (default 8 MiB, as the AWS CLI; at least 5 MiB). */
  readonly partSize?: number | undefined
  /** Objects of at least this size are uploaded in parts (default: the part size). */
  readonly multipartThreshold?: number | undefined
}

const local = new LocalStorage()
let configured: S3Options = {}
let fallbackRegion: string | undefined
let s3: Promise<Storage> | undefined

/**
 * Sets S3 client options for every `s3://` URI resolved after it (merged over the environment's).
 * Resets the cached client. `undefined` fields keep the environment's value.
 *
 * @example
 * configureS3({ endpoint: "http://127.0.0.1:5000", forcePathStyle: true, region: "us-east-1" })
 */
export function configureS3(options: S3Options): void {
  configured = { ...options }
  fallbackRegion = undefined
  s3 = undefined
}

/**
 * A region for S3 when neither the environment nor {@link configureS3} names one: the region an
 * AWS executor was configured with, so its scratch store is reachable without `AWS_REGION`.
 *
 * @example
 * useS3RegionIfUnset("eu-west-1")
 */
export function useS3RegionIfUnset(region: string | undefined): void {
  if (region === undefined || region === "" || fallbackRegion !== undefined || s3Options().region !== undefined) return
  fallbackRegion = region
  // A client made without a region cannot sign a request: make the next one with it.
  s3 = undefined
}

/** The S3 options in effect: the environment's, overridden by {@link configureS3}'s. */
export function s3Options(env: NodeJS.ProcessEnv = process.env): S3Options {
  const fromEnv: S3Options = {
    region: envValue(env, "AWS_REGION") ?? envValue(env, "AWS_DEFAULT_REGION"),
    endpoint: envValue(env, "AWS_ENDPOINT_URL_S3") ?? envValue(env, "AWS_ENDPOINT_URL"),
    forcePathStyle: envValue(env, "REDUCTIO_S3_FORCE_PATH_STYLE") === undefined ? undefined : env["REDUCTIO_S3_FORCE_PATH_STYLE"] === "1",
  }
  const merged: Record<string, unknown> = { ...fromEnv }
  for (const [key, value] of Object.entries(configured)) if (value !== undefined) merged[key] = value
  if (merged["region"] === undefined && fallbackRegion !== undefined) merged["region"] = fallbackRegion
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key]
  return merged as S3Options
}

/** True for an `s3://` URI. */
export function isS3Uri(uri: string): boolean {
  return uri.startsWith("s3://")
}

/** Splits `s3://bucket/some/key` into bucket and key (the key may be empty). */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/s.exec(uri)
  if (match === null) throw new ReductioError("INVALID_ARGUMENT", `not an S3 URI: ${JSON.stringify(uri)} (expected s3://bucket/key)`)
  return { bucket: match[1] as string, key: match[2] as string }
}

/**
 * The Storage that serves `uri`: S3 for `s3://…`, the local file system for paths and `file://`.
 * The S3 adapter is created once per {@link configureS3} and shared.
 *
 * @example
 * const storage = await storageFor("s3://bucket/scratch/jobs/abc/input")
 * const entry = await storage.readBytes("s3://bucket/scratch/jobs/abc/input")
 */
export async function storageFor(uri: string): Promise<Storage> {
  if (isS3Uri(uri)) return s3Storage()
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(uri) && !uri.startsWith("file:")) {
    throw new ReductioError("INVALID_ARGUMENT", `no storage for ${JSON.stringify(uri)}: use a local path, file:// or s3://`)
  }
  return local
}

/** The local file system storage (synchronous access for callers that know the URI is local). */
export function localStorage(): LocalStorage {
  return local
}

function s3Storage(): Promise<Storage> {
  s3 ??= import("./s3-storage.js").then(
    ({ S3Storage }) => new S3Storage(s3Options()),
    (error: unknown) => {
      s3 = undefined
      throw new ReductioError("STORAGE_ERROR", "cannot load the S3 adapter: is @aws-sdk/client-s3 installed?", { cause: error })
    },
  )
  return s3
}
