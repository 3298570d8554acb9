/**
 * @module heap-growth
 * How far `reductio run` lets the V8 heap grow between full collections. By default V8 lets it
 * grow to up to four times what was live after the last one when a program allocates fast, as a
 * run does: most of what a call allocates dies with the call, so a fan-out of 100,000 calls with
 * about 60 MB live peaked at 480 MB of RSS, and one of 1,000,000 calls at 1.6 GB. Growing by 80%
 * instead keeps them at about 340 MB and 1.1 GB for about the CPU of V8's own growth (by half:
 * the same 340 MB at 100,000 calls and 1.0 GB at 1,000,000, for a tenth more CPU and wall time).
 *
 * `REDUCTIO_HEAP_GROWING_PERCENT` sets the growth (0: V8's own); a process started with its own
 * `--heap-growing-percent` (on the command line or in NODE_OPTIONS) keeps it.
 */
import { setFlagsFromString } from "node:v8"
import { envValue } from "../env.js"
import { ReductioError } from "../errors.js"

/** The heap's growth between full collections, in percent of what was live, unless told otherwise. */
export const HEAP_GROWING_PERCENT = 80
const FLAG = "--heap-growing-percent"
const MAX_PERCENT = 1000

/** The growth to set (undefined: leave V8's), from the environment and the process's own flags. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv, execArgv: readonly string[]): number | undefined {
  const flags = [...execArgv, ...(envValue(env, "NODE_OPTIONS") ?? "").split(/\s+/)]
  if (flags.some((flag) => flag.startsWith(FLAG) || flag.startsWith("--heap_growing_percent"))) return undefined
  const text = envValue(env, "REDUCTIO_HEAP_GROWING_PERCENT")
  if (text === undefined) return HEAP_GROWING_PERCENT
  const percent = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN
  if (!(percent >= 0 && percent <= MAX_PERCENT)) {
    throw new ReductioError(
      "CONFIG_INVALID",
      `REDUCTIO_HEAP_GROWING_PERCENT is ${JSON.stringify(text.slice(0, 40))}: set a whole number from 0 to ${MAX_PERCENT} (how far the heap grows between full collections, in percent of what was live; 0 keeps V8's own), or unset it for ${HEAP_GROWING_PERCENT}`,
      { details: { variable: "REDUCTIO_HEAP_GROWING_PERCENT" } },
    )
  }
  return percent === 0 ? undefined : percent
}

/** Sets the heap's growth for this process as {@link heapGrowingPercent} says. */
export function limitHeapGrowth(env: NodeJS.ProcessEnv, execArgv: readonly string[] = process.execArgv): void {
  const percent = heapGrowingPercent(env, execArgv)
  if (percent !== undefined) setFlagsFromString(`${FLAG}=${percent}`)
}
