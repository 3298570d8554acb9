/**
 * @module task-args
 * Task arguments from the command line: `--name value` by parameter name or positionally, each
 * parsed by the parameter's declared type (see task-params.ts); `@path` reads a value from a file
 * and `--args-file` gives parameters as one JSON object, for values longer than one command-line
 * argument may be (128 KiB on Linux).
 */
import { readFileSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { ReductioError } from "../errors.js"
import type { TaskDefinition } from "../task.js"
import { describeType, type ParseContext, valueFromJson, valueFromText } from "./param-types.js"
import { type ParamSpec, taskSpec } from "./task-params.js"

/** The largest file a value (`@path`) or an `--args-file` may be read from. */
export const MAX_VALUE_FILE_BYTES = 64 * 1024 * 1024

/** Where the arguments are parsed. */
export interface TaskArgsOptions {
  /** Relative paths (Files, `@path`, the args file) resolve against it. */
  readonly cwd: string
  /** A JSON file holding an object of parameters by name; flags win over its entries. */
  readonly argsFile?: string | undefined
}

/** A value as given: command-line text, or a value from the args file. */
type Given = { readonly text: string; readonly flag: string } | { readonly json: unknown; readonly flag: string }

/**
 * Builds a task's argument list from `argv` (what follows the task name).
 *
 * @example
 * parseTaskArgs(main, ["--n", "10000"], { cwd })   // [10000] when n is a number
 */
export function parseTaskArgs(task: TaskDefinition, argv: readonly string[], options: TaskArgsOptions): unknown[] {
  const { params } = taskSpec(task)
  const { named, positional } = readArgv(task, params, argv)
  if (options.argsFile !== undefined) {
    for (const [name, json] of Object.entries(readArgsFile(task, params, options.argsFile, options.cwd))) {
      if (!named.has(name)) named.set(name, { json, flag: `${options.argsFile}: ${name}` })
    }
  }
  const args: unknown[] = []
  let next = 0
  params.forEach((param, index) => {
    const given = named.get(param.name)
    if (given !== undefined) args[index] = parseGiven(given, param, options.cwd)
    else if (param.rest) {
      const element = param.type.kind === "array" ? param.type.element : param.type
      args[index] = positional
        .slice(next)
        .map((text, i) => parseGiven({ text, flag: `${param.name}[${i}]` }, { ...param, type: element }, options.cwd))
      next = positional.length
    } else if (next < positional.length) {
      args[index] = parseGiven({ text: positional[next++] as string, flag: `argument ${next} (${param.name})` }, param, options.cwd)
    }
  })
  if (next < positional.length) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `task ${task.name} takes ${params.length} parameter(s) (${params.map((p) => p.name).join(", ")}) but got more arguments`,
    )
  }
  const missing = params.filter((param, index) => !param.optional && args[index] === undefined)
  if (missing.length > 0) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `task ${task.name} needs ${missing.map((param) => `--${param.name}`).join(", ")}; usage: ${taskUsage(task)}`,
    )
  }
  const last = params[params.length - 1]
  if (last?.rest === true && Array.isArray(args[params.length - 1]))
    args.splice(params.length - 1, 1, ...(args[params.length - 1] as unknown[]))
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop()
  return args
}

/** Splits argv into named flags (each at most once) and positional texts. */
function readArgv(
  task: TaskDefinition,
  params: readonly ParamSpec[],
  argv: readonly string[],
): { named: Map<string, Given>; positional: string[] } {
  const byName = new Map(params.map((param) => [param.name, param]))
  const named = new Map<string, Given>()
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === "--") {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (!arg.startsWith("--") || /^--?\d/.test(arg)) {
      positional.push(arg)
      continue
    }
    const eq = arg.indexOf("=")
    let name = arg.slice(2, eq < 0 ? undefined : eq)
    let text: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1)
    let param = byName.get(name)
    const negated = name.startsWith("no-") ? byName.get(name.slice(3)) : undefined
    if (param === undefined && negated?.type.kind === "boolean" && text === undefined) {
      param = negated
      name = negated.name
      text = "false"
    }
    if (param === undefined) {
      const names = params.map((p) => `--${p.name}`)
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `task ${task.name} has no parameter "${name}"; its parameters: ${names.length === 0 ? "(none)" : names.join(" ")}`,
      )
    }
    if (named.has(name)) {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `--${name} is given more than once; give each parameter once (a list as JSON: --${name} '[1,2]')`,
        {
          details: { flag: `--${name}` },
        },
      )
    }
    if (text === undefined) {
      const following = argv[i + 1]
      const takesNext = following !== undefined && !following.startsWith("--")
      if (param.type.kind === "boolean") text = following === "true" || following === "false" ? (argv[++i] as string) : "true"
      else if (takesNext) text = argv[++i] as string
      else if (param.type.kind === "unknown") text = "true"
      else
        throw new ReductioError("INVALID_ARGUMENT", `--${name} needs a value (${describeType(param.type)})`, {
          details: { flag: `--${name}` },
        })
    }
    named.set(name, { text, flag: `--${name}` })
  }
  return { named, positional }
}

function parseGiven(given: Given, param: ParamSpec, cwd: string): unknown {
  const context: ParseContext = { flag: given.flag, cwd }
  if ("json" in given) return valueFromJson(given.json, param.type, context)
  return valueFromText(expandFileValue(given.text, given.flag, cwd), param.type, context)
}

/**
 * `@path` stands for the text of a file (one trailing newline removed); `@@text` for `@text`.
 *
 * @example
 * expandFileValue("@big.json", "--rows", cwd)   // the file's text
 */
export function expandFileValue(text: string, flag: string, cwd: string): string {
  if (text.startsWith("@@")) return text.slice(1)
  if (!text.startsWith("@") || text.length === 1) return text
  const content = readValueFile(text.slice(1), flag, cwd)
  return content.endsWith("\n") ? content.slice(0, content.endsWith("\r\n") ? -2 : -1) : content
}

function readValueFile(path: string, flag: string, cwd: string): string {
  const full = resolve(cwd, path)
  let size: number
  try {
    const stat = statSync(full)
    if (!stat.isFile()) throw new Error("not a regular file")
    size = stat.size
  } catch (error) {
    throw new ReductioError("INVALID_ARGUMENT", `${flag}: cannot read ${path}: ${(error as Error).message}`, {
      details: { flag, path: full },
    })
  }
  if (size > MAX_VALUE_FILE_BYTES) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `${flag}: ${path} is ${size} bytes, more than the ${MAX_VALUE_FILE_BYTES} a value may be read from; pass a File parameter instead`,
      { details: { flag, path: full, size, limit: MAX_VALUE_FILE_BYTES } },
    )
  }
  return readFileSync(full, "utf8")
}

function readArgsFile(task: TaskDefinition, params: readonly ParamSpec[], path: string, cwd: string): Record<string, unknown> {
  const text = readValueFile(path, "--args-file", cwd)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ReductioError("INVALID_ARGUMENT", `--args-file ${path} is not JSON: ${(error as Error).message}`, { details: { path } })
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ReductioError("INVALID_ARGUMENT", `--args-file ${path} must hold one JSON object of parameters by name`, {
      details: { path },
    })
  }
  const names = new Set(params.map((param) => param.name))
  for (const key of Object.keys(parsed)) {
    if (!names.has(key))
      throw new ReductioError("INVALID_ARGUMENT", `--args-file ${path}: task ${task.name} has no parameter "${key}"`, {
        details: { path, key },
      })
  }
  return parsed as Record<string, unknown>
}

/** The one-line usage of a task: `main --n <n> [--label <label>]` (brackets: has a default). */
export function taskUsage(task: TaskDefinition): string {
  const parameters = taskSpec(task).params.map(({ name, optional }) => (optional ? `[--${name} <${name}>]` : `--${name} <${name}>`))
  return [task.name, ...parameters].join(" ")
}

/** One line per parameter: flag, type, default and doc, for `--help`. */
export function parameterLines(task: TaskDefinition): string[] {
  const { params } = taskSpec(task)
  const width = Math.max(0, ...params.map((param) => param.name.length + 2))
  return params.map((param) => {
    const parts = [param.typeText ?? describeType(param.type)]
    if (param.defaultText !== undefined) parts.push(`default ${param.defaultText}`)
    else if (!param.optional) parts.push("required")
    const doc = param.doc === undefined ? "" : `  ${param.doc.replace(/\s+/g, " ")}`
    return `--${param.name}`.padEnd(width + 2) + parts.join(", ") + doc
  })
}
