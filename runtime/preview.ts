/**
 * @module preview
 * Short, one-line previews of values for people: a call's arguments in an error message, a
 * result in `reductio log`. Strings are quoted, lists and objects show their first entries and
 * how many more, Files their path; the text never exceeds the width asked for.
 *
 * @example
 * previewValue({ sample: "s1", reads: [1, 2, 3, 4, 5, 6, 7, 8] }, 40) // '{sample: "s1", reads: [1, 2, 3, 4, 5, …]}'
 */
import { expressionOf } from "./expression.js"
import { isDir, isFile, isStagingFile } from "./file.js"

/** The task `script()` calls: its preview is its command, not its staging specs. */
const SCRIPT_TASK = "reductio.script"
const MAX_ITEMS = 5
const MAX_DEPTH = 3

/** A value on one line in at most `width` characters (at least 8). */
export function previewValue(value: unknown, width = 80): string {
  return clip(render(value, Math.max(8, width), 0), Math.max(8, width))
}

/**
 * A call's arguments on one line, without the brackets: `"s1", 3`. A script's arguments are its
 * command (its first line).
 */
export function previewArgs(taskName: string, args: readonly unknown[], width = 80): string {
  if (taskName === SCRIPT_TASK && typeof args[0] === "string") {
    const command = args[0].trim().split("\n")[0] ?? ""
    return previewValue(command, width)
  }
  return clip(args.map((arg) => render(arg, width, 1)).join(", "), width)
}

/**
 * What messages and listings call a call: `task align`, `task align (sample s1)` with a call
 * site's name, and for `script()`: `script` with its name, `in task <the task that built it>`.
 *
 * @example
 * callLabel("reductio.script", null, "align") // "script in task align"
 */
export function callLabel(taskName: string, name: string | null | undefined, parentTaskName?: string | null): string {
  if (taskName !== SCRIPT_TASK) return name ? `task ${taskName} (${name})` : `task ${taskName}`
  const named = name ? `script ${name}` : "script"
  return parentTaskName ? `${named} in task ${parentTaskName}` : named
}

function render(value: unknown, width: number, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > width ? `${value.slice(0, width)}` : value)
    case "number":
    case "boolean":
    case "undefined":
      return String(value)
    case "bigint":
      return `${value}n`
    case "symbol":
      return value.toString()
    case "function":
      return `function ${value.name || "(anonymous)"}`
  }
  if (value === null) return "null"
  return renderObject(value as object, width, depth)
}

function renderObject(value: object, width: number, depth: number): string {
  const expression = expressionOf(value)
  if (expression !== undefined) return expression.kind === "call" ? `<call ${expression.task}>` : `<${expression.kind}>`
  if (isStagingFile(value)) return `StagingFile(${value.remote.path} → ${value.local})`
  if (isFile(value)) return `File(${value.path})`
  if (isDir(value)) return `Dir(${value.path})`
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
  if (value instanceof Uint8Array) return `bytes(${value.byteLength})`
  if (value instanceof Error) return `${value.name}: ${value.message.split("\n")[0]}`
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? `[…${value.length}]` : "{…}"
  if (Array.isArray(value)) return `[${items(value, value.length, (item) => render(item, width, depth + 1), width)}]`
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => `${render(k, width, depth + 1)} => ${render(v, width, depth + 1)}`)
    return `Map(${value.size}) {${items(entries, value.size, (entry) => entry, width)}}`
  }
  if (value instanceof Set) return `Set(${value.size}) {${items([...value], value.size, (item) => render(item, width, depth + 1), width)}}`
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null
  const keys = Object.keys(value)
  const prefix = proto === null || proto === Object.prototype ? "" : `${proto.constructor?.name ?? "Object"} `
  const record = value as Record<string, unknown>
  return `${prefix}{${items(keys, keys.length, (key) => `${identifier(key)}: ${render(record[key], width, depth + 1)}`, width)}}`
}

/** The first items that fit, then `… N more`. */
function items<T>(list: readonly T[], total: number, show: (item: T) => string, width: number): string {
  const shown: string[] = []
  let length = 0
  for (const item of list.slice(0, MAX_ITEMS)) {
    const text = show(item)
    if (shown.length > 0 && length + text.length > width) break
    shown.push(text)
    length += text.length + 2
  }
  const rest = total - shown.length
  return rest > 0 ? [...shown, `… ${rest} more`].join(", ") : shown.join(", ")
}

function identifier(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key)
}

function clip(text: string, width: number): string {
  // Control characters (a terminal escape in an error message) never reach the terminal.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}
