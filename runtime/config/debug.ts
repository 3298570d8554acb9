/**
 * @module debug
 * `REDUCTIO_DEBUG`: a comma-separated list of topics (or `*`) whose diagnostics go to stderr, as
 * NODE_DEBUG does for Node. Builtins only (it is bundled into the TypeScript hooks too, which
 * may run on Node's hooks thread).
 */
import { writeSync } from "node:fs"

/** True when `REDUCTIO_DEBUG` names `topic` (or is `*`). */
export function debugs(topic: string): boolean {
  const topics = (process.env.REDUCTIO_DEBUG ?? "").split(",").map((name) => name.trim())
  return topics.includes(topic) || topics.includes("*")
}

/** Writes `reductio: <line>` to stderr at once (from any thread, even as the process exits). */
export function debugLine(line: string): void {
  try {
    writeSync(2, `reductio: ${line}\n`)
  } catch {
    // stderr closed: nothing to report to.
  }
}
