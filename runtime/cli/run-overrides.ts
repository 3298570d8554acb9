/**
 * @module run-overrides
 * What a run's flags lay over the configuration: the context (`--context-file`, then
 * `--context key=value`) and per-task option overrides (`-o task=option=value`).
 */
import { deepMerge } from "../config/load-config.js"
import { TASK_OPTION_KINDS, taskOptionProblem } from "../config/config.js"
import { setContextValue } from "../context.js"
import { ReductioError } from "../errors.js"
import type { CallOptions } from "../expression.js"
import { expandFileValue } from "./task-args.js"

/**
 * The run's context: the configuration's, then each `--context-file` (a JSON object, merged
 * deeply), then each `--context key=value` (a dotted key; the value is JSON when it parses, else
 * text; `@path` reads it from a file). A key given twice is an error.
 *
 * @example
 * runContext({ bwa: { threads: 4 } }, [], ["bwa.threads=8"], cwd)   // { bwa: { threads: 8 } }
 */
export function runContext(
  base: Readonly<Record<string, unknown>>,
  files: readonly string[],
  pairs: readonly string[],
  cwd: string,
): Record<string, unknown> {
  let context: Record<string, unknown> = deepMerge({}, base)
  for (const file of files) {
    const text = expandFileValue(`@${file}`, "--context-file", cwd)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new ReductioError("INVALID_ARGUMENT", `--context-file ${file} is not JSON: ${(error as Error).message}`, { details: { file } })
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ReductioError("INVALID_ARGUMENT", `--context-file ${file} must hold one JSON object`, { details: { file } })
    }
    context = deepMerge(context, parsed as Record<string, unknown>)
  }
  const seen = new Set<string>()
  for (const pair of pairs) {
    const eq = pair.indexOf("=")
    if (eq <= 0) throw new ReductioError("INVALID_ARGUMENT", `--context ${pair}: give key=value (e.g. --context bwa.threads=8)`)
    const key = pair.slice(0, eq)
    if (seen.has(key)) throw new ReductioError("INVALID_ARGUMENT", `--context ${key} is given more than once`, { details: { key } })
    seen.add(key)
    const text = expandFileValue(pair.slice(eq + 1), `--context ${key}`, cwd)
    setContextValue(context, key, jsonOrText(text))
  }
  return context
}

/**
 * Per-task option overrides: the configuration's `tasks`, then each `-o task=option=value`.
 * `task` is a registered or exported name (`resolveTask` maps it to the registered one, or throws).
 *
 * @example
 * runTaskOptions({}, ["align=memory=8192", "align=executor=batch"], (name) => name)
 */
export function runTaskOptions(
  base: Readonly<Record<string, CallOptions>>,
  overrides: readonly string[],
  resolveTask: (name: string) => string,
): Record<string, CallOptions> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [name, options] of Object.entries(base)) out[name] = { ...options }
  const seen = new Set<string>()
  for (const override of overrides) {
    const match = /^([^=]+)=([^=]+)=(.*)$/s.exec(override)
    if (match === null) {
      throw new ReductioError("INVALID_ARGUMENT", `-o ${override}: give task=option=value (e.g. -o align=memory=8192)`, {
        details: { override },
      })
    }
    const [, given, option, text] = match as unknown as [string, string, string, string]
    const name = resolveTask(given)
    if (seen.has(`${name}\u0000${option}`)) {
      throw new ReductioError("INVALID_ARGUMENT", `-o ${given}=${option} is given more than once`, { details: { task: name, option } })
    }
    seen.add(`${name}\u0000${option}`)
    const value = optionValue(option, text)
    const problem = taskOptionProblem(option, value)
    if (problem !== undefined)
      throw new ReductioError("INVALID_ARGUMENT", `-o ${given}=${option}: ${option} ${problem}`, { details: { task: name, option } })
    out[name] = { ...out[name], [option]: value }
  }
  return out as Record<string, CallOptions>
}

function optionValue(option: string, text: string): unknown {
  switch (TASK_OPTION_KINDS[option]) {
    case "string":
      return text
    case "boolean":
      return text === "true" ? true : text === "false" ? false : text
    case "batch":
      return jsonOrText(text)
    case "limits":
      return text.trim().startsWith("[") || text.trim().startsWith("{") ? jsonOrText(text) : text.split(",").filter((name) => name !== "")
    default:
      return /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : text
  }
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}
