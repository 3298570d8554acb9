/**
 * @module cloudwatch-logs
 * The only file of reductio that touches `@aws-sdk/client-cloudwatch-logs`: the tail of an AWS
 * Batch job's log stream (Batch writes containers' output to the `/aws/batch/job` group), for a
 * container that died before its agent uploaded its own log, and for `reductio batch logs`. Load
 * it with a dynamic import so local runs never evaluate the SDK.
 */
import { CloudWatchLogsClient, type CloudWatchLogsClientConfig, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs"
import { ReductioError } from "../../errors.js"

/** Batch's default log group for job containers. */
export const BATCH_LOG_GROUP = "/aws/batch/job"
/** Most bytes of a tail returned: a log line is hostile input and may be huge. */
const MAX_TAIL_BYTES = 64 * 1024

/** Where the Logs API is. */
export interface LogsOptions {
  readonly region?: string | undefined
  /** A Logs-compatible endpoint (an emulator); else AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or AWS. */
  readonly endpoint?: string | undefined
  readonly credentials?: CloudWatchLogsClientConfig["credentials"]
  readonly logGroupName?: string | undefined
}

/**
 * The last `lines` lines (at most 64 KiB) of a log stream, oldest first; undefined when the stream
 * does not exist (yet). Other failures are SERVICE_ERROR naming the stream.
 *
 * @example
 * const tail = await logStreamTail("reductio-abc/default/0123", { region: "eu-west-1" }, 50)
 */
export async function logStreamTail(logStreamName: string, options: LogsOptions, lines: number): Promise<string | undefined> {
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const client = new CloudWatchLogsClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  })
  const logGroupName = options.logGroupName ?? BATCH_LOG_GROUP
  try {
    const page = await client.send(
      new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: false, limit: Math.max(1, Math.min(lines, 10_000)) }),
    )
    const text = (page.events ?? []).map((event) => String(event.message ?? "").replace(/\n$/, "")).join("\n")
    return text.length > MAX_TAIL_BYTES ? text.slice(-MAX_TAIL_BYTES) : text
  } catch (error) {
    if ((error as { name?: string }).name === "ResourceNotFoundException") return undefined
    throw new ReductioError(
      "SERVICE_ERROR",
      `cannot read CloudWatch log stream ${logGroupName}/${logStreamName}: ${(error as Error).message}`,
      {
        cause: error,
        details: { logGroupName, logStreamName },
      },
    )
  } finally {
    client.destroy()
  }
}
