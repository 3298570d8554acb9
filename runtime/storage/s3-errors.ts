/**
 * @module s3-errors
 * How S3's answers become ReductioErrors naming the URI, and the small readings of SDK responses
 * the S3 adapter shares (no SDK import: errors and responses are inspected structurally).
 */
import { ReductioError } from "../errors.js"
import { parseS3Uri } from "./storage-registry.js"

/** An ETag without its quotes. */
export function unquote(etag: string | undefined): string | undefined {
  return etag?.replaceAll('"', "")
}

/** The HTTP status of an SDK failure. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
}

/** True for an error the SDK raised (as opposed to one from the local file system). */
export function isSdkError(error: unknown): boolean {
  return typeof error === "object" && error !== null && "$metadata" in error
}

/**
 * True when S3 says an ETag is not the MD5 of the bytes: SSE-KMS and SSE-C objects have other
 * ETags, so only the size can be checked.
 */
export function etagIsNotMd5(response: { ServerSideEncryption?: string | undefined; SSECustomerAlgorithm?: string | undefined }): boolean {
  return (response.ServerSideEncryption?.startsWith("aws:kms") ?? false) || response.SSECustomerAlgorithm !== undefined
}

const MISSING_KEY = new Set(["NoSuchKey", "NotFound"])
const DENIED = new Set(["AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"])

/** Maps an SDK failure to a ReductioError naming the URI (ReductioErrors pass through). */
export function s3Error(error: unknown, uri: string, action: string): ReductioError {
  if (error instanceof ReductioError) return error
  const name = (error as Error | undefined)?.name ?? "Error"
  const status = statusOf(error)
  const details = { uri, action, s3Code: name, ...(status === undefined ? {} : { status }) }
  if (name === "NoSuchBucket") {
    const { bucket } = parseS3Uri(uri)
    return new ReductioError("STORAGE_ERROR", `cannot ${action} ${uri}: bucket ${bucket} does not exist`, { cause: error, details })
  }
  if (MISSING_KEY.has(name) || status === 404) {
    return new ReductioError("FILE_NOT_FOUND", `cannot ${action} ${uri}: no such object`, { cause: error, details })
  }
  if (DENIED.has(name) || status === 403) {
    return new ReductioError("PERMISSION_DENIED", `cannot ${action} ${uri}: access denied (${name})`, { cause: error, details })
  }
  return new ReductioError("STORAGE_ERROR", `cannot ${action} ${uri}: ${name}: ${(error as Error).message}`, { cause: error, details })
}

/** A TRANSFER_CORRUPT error: what was written does not match its source. */
export function corrupt(uri: string, what: string, expected: string | number, actual: string | number): ReductioError {
  return new ReductioError(
    "TRANSFER_CORRUPT",
    `${uri}: the ${what} of the transferred bytes is ${actual}, expected ${expected} (the source changed while it was copied, or bytes were damaged in transit): run the copy again`,
    { details: { uri, what, expected, actual } },
  )
}
