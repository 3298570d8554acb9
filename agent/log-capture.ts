/**
 * @module log-capture
 * Tees the agent's stdout and stderr (the task's console output included) into a buffer, so the
 * job's log can be written to `<scratch>/jobs/<eval>/log` next to its output. The text still reaches
 * the real streams (a container's log driver, the host's pipe).
 */

/** Keeps at most this much of a job's log (the first write and the end are kept). */
const MAX_LOG_BYTES = 4 * 1024 * 1024

/** A running capture. */
export interface LogCapture {
  /** The captured text so far. */
  text(): string
  /** Restores the original streams. */
  stop(): void
}

/** Starts teeing process.stdout and process.stderr. */
export function captureOutput(): LogCapture {
  const chunks: string[] = []
  let size = 0
  let dropped = 0
  const record = (chunk: unknown, encoding: unknown) => {
    const text =
      typeof chunk === "string"
        ? chunk
        : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8")
    chunks.push(text)
    size += text.length
    while (size > MAX_LOG_BYTES && chunks.length > 2) {
      const removed = chunks.splice(1, 1)[0] as string
      size -= removed.length
      dropped += removed.length
    }
  }
  const restore = [tee(process.stdout, record), tee(process.stderr, record)]
  return {
    text() {
      if (dropped === 0) return chunks.join("")
      return `${chunks[0]}\n[… ${dropped} characters of log dropped …]\n${chunks.slice(1).join("")}`
    },
    stop() {
      for (const undo of restore) undo()
    },
  }
}

function tee(stream: NodeJS.WriteStream, record: (chunk: unknown, encoding: unknown) => void): () => void {
  const original = stream.write
  stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    record(chunk, typeof rest[0] === "string" ? rest[0] : undefined)
    return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
  } as typeof stream.write
  return () => {
    stream.write = original
  }
}
