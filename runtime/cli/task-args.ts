/**
 * @module task-args
 * Task arguments from the command line: `--name value` by parameter name (JSON literals parsed,
 * anything else a string), or positionally.
 */
import { ReductioError } from "../errors.js"
import { parameterNames, type TaskDefinition, taskParameters } from "../task.js"

/** Parses one command-line value: a JSON literal if it is one, else the string itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Builds a task's argument list from `argv` (what follows the task name).
 *
 * @example
 * parseTaskArgs(main, ["--n", "10000"])   // [10000]
 */
export function parseTaskArgs(task: TaskDefinition, argv: readonly string[]): unknown[] {
  const names = parameterNames(task.fn)
  const positional: unknown[] = []
  const named = new Map<string, unknown>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === "--") {
      positional.push(...argv.slice(i + 1).map(parseValue))
      break
    }
    if (!arg.startsWith("--") || /^--?\d/.test(arg)) {
      positional.push(parseValue(arg))
      continue
    }
    const eq = arg.indexOf("=")
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    if (!names.includes(name)) {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `task ${task.name} has no parameter "${name}"; its parameters: ${names.length === 0 ? "(none)" : names.map((n) => `--${n}`).join(" ")}`,
      )
    }
    if (eq >= 0) named.set(name, parseValue(arg.slice(eq + 1)))
    else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith("--")) named.set(name, parseValue(argv[++i] as string))
    else named.set(name, true)
  }
  const args: unknown[] = []
  let next = 0
  names.forEach((name, index) => {
    if (named.has(name)) args[index] = named.get(name)
    else if (next < positional.length) args[index] = positional[next++]
  })
  if (next < positional.length) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `task ${task.name} takes ${names.length} parameter(s) (${names.join(", ")}) but got more arguments`,
    )
  }
  const missing = taskParameters(task.fn).filter((parameter, index) => !parameter.optional && args[index] === undefined)
  if (missing.length > 0) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `task ${task.name} needs ${missing.map((parameter) => `--${parameter.name}`).join(", ")}; usage: ${taskUsage(task)}`,
    )
  }
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop()
  return args
}

/** The one-line usage of a task: `main --n <n> [--label <label>]` (brackets: has a default). */
export function taskUsage(task: TaskDefinition): string {
  const parameters = taskParameters(task.fn).map(({ name, optional }) => (optional ? `[--${name} <${name}>]` : `--${name} <${name}>`))
  return [task.name, ...parameters].join(" ")
}
