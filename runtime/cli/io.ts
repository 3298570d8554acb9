/**
 * @module io
 * The one seam for the CLI's input and output, so tests can capture it.
 */

/** Where the CLI writes and what it knows of its surroundings. */
export interface CliIo {
  /** Writes to standard output (results, listings). */
  readonly out: (text: string) => void
  /** Writes to standard error (progress, warnings, errors). */
  readonly err: (text: string) => void
  /** True when standard error is a terminal (live progress table). */
  readonly isTTY: boolean
  /** Terminal width in columns, when a terminal. */
  readonly columns: number
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
}

/** The process's real IO. */
export function processIo(): CliIo {
  // `reductio log | head`: a reader that goes away is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") > 0) continue
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
      throw error
    })
  }
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns || 120,
    cwd: process.cwd(),
    env: process.env,
  }
}
