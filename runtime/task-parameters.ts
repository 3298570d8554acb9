/**
 * @module task-parameters
 * The parameter names of a task function, read from its source (for the command line's
 * `--name value` flags). Destructured parameters appear as `arg<i>`.
 */

/** A task function's parameter as read from its source. */
export interface TaskParameter {
  readonly name: string
  /** Has a default value, or is a rest parameter. */
  readonly optional: boolean
}

/**
 * The parameter names of a task function, read from its source (for the CLI's `--name value`
 * flags). Destructured parameters appear as `arg<i>`.
 */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  return taskParameters(fn).map((parameter) => parameter.name)
}

/** The parameters of a task function, read from its source. */
export function taskParameters(fn: (...args: never[]) => unknown): TaskParameter[] {
  const source = fn.toString()
  const arrow = /^(?:async\s*)?([A-Za-z_$][\w$]*)\s*=>/.exec(source)
  if (arrow?.[1] !== undefined) return [{ name: arrow[1], optional: false }]
  const open = source.indexOf("(")
  if (open < 0) return []
  let depth = 0
  let end = open
  for (let i = open; i < source.length; i++) {
    const ch = source[i]
    if (ch === "(" || ch === "[" || ch === "{") depth++
    else if (ch === ")" || ch === "]" || ch === "}") {
      depth--
      if (depth === 0) {
        end = i
        break
      }
    }
  }
  const list = source.slice(open + 1, end)
  const parts: string[] = []
  depth = 0
  let current = ""
  for (const ch of list) {
    if (ch === "(" || ch === "[" || ch === "{") depth++
    if (ch === ")" || ch === "]" || ch === "}") depth--
    if (ch === "," && depth === 0) {
      parts.push(current)
      current = ""
    } else current += ch
  }
  if (current.trim() !== "") parts.push(current)
  return parts.map((part, i) => {
    const match = /^\s*(\.\.\.)?([A-Za-z_$][\w$]*)/.exec(part)
    const rest = match?.[1] !== undefined
    return { name: match?.[2] ?? `arg${i}`, optional: rest || hasDefault(part) }
  })
}

/** True when a parameter's source has a top-level `=` (a default value). */
function hasDefault(part: string): boolean {
  let depth = 0
  for (let i = 0; i < part.length; i++) {
    const ch = part[i]
    if (ch === "(" || ch === "[" || ch === "{") depth++
    else if (ch === ")" || ch === "]" || ch === "}") depth--
    else if (ch === "=" && depth === 0 && part[i + 1] !== ">" && part[i + 1] !== "=") return true
  }
  return false
}
