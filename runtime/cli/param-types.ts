/**
 * @module param-types
 * The types the command line parses task parameters by, read from a TypeScript annotation
 * (`number`, `File`, `"fast" | "slow"`, `string[]`, `{ a: number }`), from a default value
 * (`n = 10`), or from a task's `params` option; and the parsing of one value by its type.
 */
import { resolve } from "node:path"
import { ReductioError } from "../errors.js"
import { Dir, File } from "../file.js"
import type { ParamTypeName } from "../task.js"
import { closingIndex, type SourceToken, splitTopLevel, tokenize } from "../source-tokens.js"

/** How one parameter is parsed. `unknown`: JSON when the text is JSON, else the text itself. */
export type ParamType =
  | { readonly kind: "string" | "number" | "boolean" | "bigint" | "file" | "dir" | "date" | "object" | "json" | "unknown" }
  | { readonly kind: "array"; readonly element: ParamType }
  | { readonly kind: "choice"; readonly values: readonly (string | number | boolean)[] }
  | { readonly kind: "union"; readonly options: readonly ParamType[] }

const UNKNOWN: ParamType = { kind: "unknown" }
const NAMED: Readonly<Record<string, ParamType>> = {
  string: { kind: "string" },
  number: { kind: "number" },
  boolean: { kind: "boolean" },
  bigint: { kind: "bigint" },
  File: { kind: "file" },
  Dir: { kind: "dir" },
  Date: { kind: "date" },
  object: { kind: "object" },
  json: { kind: "json" },
  Record: { kind: "object" },
  Partial: { kind: "object" },
  Readonly: { kind: "object" },
}
const ARRAYS = new Set(["Array", "ReadonlyArray"])
const DROPPED = new Set(["undefined", "null", "void"])

/**
 * The type of a parameter from its annotation text, else from its default value, resolving the
 * source's type aliases.
 *
 * @example
 * paramTypeOf('"fast" | "slow"', undefined, {})   // { kind: "choice", values: ["fast", "slow"] }
 */
export function paramTypeOf(
  annotation: string | undefined,
  defaultText: string | undefined,
  aliases: Readonly<Record<string, string>>,
): ParamType {
  if (annotation !== undefined) return typeFromText(annotation, aliases, new Set())
  if (defaultText === undefined) return UNKNOWN
  const literal = defaultText.trim()
  if (/^-?(?:\d[\d_]*\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(literal)) return NAMED.number as ParamType
  if (/^(?:true|false)$/.test(literal)) return NAMED.boolean as ParamType
  if (/^(?:"[^"]*"|'[^']*'|`[^`$]*`)$/.test(literal)) return NAMED.string as ParamType
  if (/^-?\d+n$/.test(literal)) return NAMED.bigint as ParamType
  return UNKNOWN
}

/** The type a `params` option entry names. */
export function paramTypeFromName(name: ParamTypeName, choices?: readonly (string | number)[]): ParamType {
  if (choices !== undefined) return { kind: "choice", values: [...choices] }
  if (name.endsWith("[]")) return { kind: "array", element: paramTypeFromName(name.slice(0, -2) as ParamTypeName) }
  return NAMED[name] ?? UNKNOWN
}

function typeFromText(text: string, aliases: Readonly<Record<string, string>>, seen: Set<string>): ParamType {
  const tokens = tokenize(text)
  return parseUnion(tokens, 0, tokens.length, aliases, seen)
}

function parseUnion(
  tokens: readonly SourceToken[],
  from: number,
  to: number,
  aliases: Readonly<Record<string, string>>,
  seen: Set<string>,
): ParamType {
  const members: [number, number][] = []
  let depth = 0
  let start = from
  for (let i = from; i < to; i++) {
    const text = (tokens[i] as SourceToken).text
    if ("([{<".includes(text)) depth++
    else if (")]}>".includes(text)) depth--
    else if (text === "|" && depth === 0) {
      if (i > start) members.push([start, i])
      start = i + 1
    }
  }
  if (start < to) members.push([start, to])
  const options = members
    .filter(([a, b]) => !(b - a === 1 && DROPPED.has((tokens[a] as SourceToken).text)))
    .map(([a, b]) => parseMember(tokens, a, b, aliases, seen))
  return combine(options)
}

function combine(options: readonly ParamType[]): ParamType {
  if (options.length === 0) return UNKNOWN
  if (options.some((option) => option.kind === "unknown")) return UNKNOWN
  const isBoolean = (option: ParamType) =>
    option.kind === "boolean" || (option.kind === "choice" && option.values.every((value) => typeof value === "boolean"))
  if (options.every(isBoolean)) return NAMED.boolean as ParamType
  const literals = options.filter((option) => option.kind === "choice")
  if (literals.length === options.length) return { kind: "choice", values: literals.flatMap((option) => option.values) }
  return options.length === 1 ? (options[0] as ParamType) : { kind: "union", options }
}

function parseMember(
  tokens: readonly SourceToken[],
  from: number,
  to: number,
  aliases: Readonly<Record<string, string>>,
  seen: Set<string>,
): ParamType {
  let start = from
  while (tokens[start]?.text === "readonly" && start + 1 < to) start++
  // Postfix `[]`: an array of what comes before.
  if (to - start >= 3 && tokens[to - 1]?.text === "]" && tokens[to - 2]?.text === "[") {
    return { kind: "array", element: parseMember(tokens, start, to - 2, aliases, seen) }
  }
  const first = tokens[start] as SourceToken | undefined
  if (first === undefined) return UNKNOWN
  if (first.text === "(" && closingIndex(tokens, start) === to - 1) return parseUnion(tokens, start + 1, to - 1, aliases, seen)
  if (first.text === "{") return closingIndex(tokens, start) === to - 1 ? (NAMED.object as ParamType) : UNKNOWN
  if (first.text === "[") return closingIndex(tokens, start) === to - 1 ? tupleType(tokens, start, to) : UNKNOWN
  if (to - start === 1) {
    if (first.kind === "string") return { kind: "choice", values: [first.text.slice(1, -1)] }
    if (first.kind === "number") return { kind: "choice", values: [Number(first.text)] }
    if (first.text === "true" || first.text === "false") return { kind: "choice", values: [first.text === "true"] }
  }
  if (first.text === "-" && tokens[start + 1]?.kind === "number" && to - start === 2)
    return { kind: "choice", values: [-Number(tokens[start + 1]?.text)] }
  if (first.kind !== "ident") return UNKNOWN
  if (to - start === 1) return namedType(first.text, aliases, seen)
  if (tokens[start + 1]?.text === "<" && closingIndex(tokens, start + 1, true) === to - 1) {
    if (ARRAYS.has(first.text)) return { kind: "array", element: parseUnion(tokens, start + 2, to - 1, aliases, seen) }
    return NAMED[first.text]?.kind === "object" ? (NAMED.object as ParamType) : UNKNOWN
  }
  return UNKNOWN
}

function tupleType(tokens: readonly SourceToken[], open: number, end: number): ParamType {
  return splitTopLevel(tokens, open + 1, end - 1, true).length === 0 ? UNKNOWN : (NAMED.json as ParamType)
}

function namedType(name: string, aliases: Readonly<Record<string, string>>, seen: Set<string>): ParamType {
  const alias = aliases[name]
  if (alias !== undefined && !seen.has(name)) return typeFromText(alias, aliases, new Set([...seen, name]))
  const named = NAMED[name]
  return named === undefined || named.kind === "object" ? UNKNOWN : named
}

/** A short name of a type for `--help` and error messages. */
export function describeType(type: ParamType): string {
  switch (type.kind) {
    case "file":
      return "File"
    case "dir":
      return "Dir"
    case "date":
      return "Date"
    case "unknown":
      return "value"
    case "array":
      return `${describeType(type.element)}[]`
    case "choice":
      return type.values.map((value) => JSON.stringify(value)).join(" | ")
    case "union":
      return type.options.map(describeType).join(" | ")
    default:
      return type.kind
  }
}

/** Where a value is parsed: names the flag in errors and resolves relative paths. */
export interface ParseContext {
  /** How the value was given, e.g. `--n`. */
  readonly flag: string
  readonly cwd: string
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

function invalid(context: ParseContext, type: ParamType, got: string): ReductioError {
  const shown = got.length > 60 ? `${got.slice(0, 57)}...` : got
  return new ReductioError("INVALID_ARGUMENT", `${context.flag} expects ${describeType(type)}, got ${JSON.stringify(shown)}`, {
    details: { flag: context.flag, expected: describeType(type), got: shown },
  })
}

/**
 * Parses a value given as text on the command line by its type.
 *
 * @example
 * valueFromText("10", { kind: "number" }, { flag: "--n", cwd })   // 10
 */
export function valueFromText(text: string, type: ParamType, context: ParseContext): unknown {
  switch (type.kind) {
    case "string":
      return text
    case "unknown":
      return jsonOr(text, () => text)
    case "number":
      if (!NUMBER.test(text.trim())) throw invalid(context, type, text)
      return Number(text)
    case "boolean":
      if (text === "true" || text === "false") return text === "true"
      throw invalid(context, type, text)
    case "bigint":
      if (!/^[+-]?\d+$/.test(text.trim())) throw invalid(context, type, text)
      return BigInt(text.trim())
    case "date":
      return dateOf(text, type, context)
    case "file":
    case "dir":
      return locationOf(text, type, context)
    case "choice": {
      const found = type.values.find((value) => String(value) === text)
      if (found === undefined) throw invalid(context, type, text)
      return found
    }
    case "union":
      return unionValue(type.options, context, text, (option) => valueFromText(text, option, context))
    default:
      return valueFromJson(
        jsonOr(text, () => invalidThrow(context, type, text)),
        type,
        context,
      )
  }
}

/**
 * Checks (and converts: paths to Files, text to numbers) a value read from JSON, e.g. from an
 * `--args-file`. A string given for a type that is not a string is parsed as command-line text.
 */
export function valueFromJson(value: unknown, type: ParamType, context: ParseContext): unknown {
  if (
    typeof value === "string" &&
    type.kind !== "string" &&
    type.kind !== "unknown" &&
    type.kind !== "json" &&
    type.kind !== "array" &&
    type.kind !== "object"
  )
    return valueFromText(value, type, context)
  switch (type.kind) {
    case "unknown":
    case "json":
      return value
    case "string":
      if (typeof value !== "string") throw invalid(context, type, JSON.stringify(value))
      return value
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(context, type, JSON.stringify(value))
      return value
    case "boolean":
      if (typeof value !== "boolean") throw invalid(context, type, JSON.stringify(value))
      return value
    case "bigint":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw invalid(context, type, JSON.stringify(value))
      return BigInt(value)
    case "date":
      if (typeof value !== "number") throw invalid(context, type, JSON.stringify(value))
      return new Date(value)
    case "choice":
      if (!type.values.includes(value as string)) throw invalid(context, type, JSON.stringify(value))
      return value
    case "array":
      if (!Array.isArray(value)) throw invalid(context, type, JSON.stringify(value))
      return value.map((item, i) => valueFromJson(item, type.element, { ...context, flag: `${context.flag}[${i}]` }))
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(context, type, JSON.stringify(value))
      return value
    case "union":
      return unionValue(type.options, context, JSON.stringify(value), (option) => valueFromJson(value, option, context))
    default:
      throw invalid(context, type, JSON.stringify(value))
  }
}

/** The first option that parses, trying the stricter kinds before strings and paths. */
function unionValue(options: readonly ParamType[], context: ParseContext, shown: string, parse: (option: ParamType) => unknown): unknown {
  const lenient = new Set(["string", "file", "dir", "unknown"])
  const ordered = [...options.filter((o) => !lenient.has(o.kind)), ...options.filter((o) => lenient.has(o.kind))]
  for (const option of ordered) {
    try {
      return parse(option)
    } catch (error) {
      if (!(error instanceof ReductioError) || error.code !== "INVALID_ARGUMENT") throw error
    }
  }
  throw invalid(context, { kind: "union", options }, shown)
}

function jsonOr(text: string, otherwise: () => unknown): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return otherwise()
  }
}

function invalidThrow(context: ParseContext, type: ParamType, text: string): never {
  throw invalid(context, type, text)
}

function dateOf(text: string, type: ParamType, context: ParseContext): Date {
  const date = new Date(NUMBER.test(text) ? Number(text) : text)
  if (Number.isNaN(date.getTime())) throw invalid(context, type, text)
  return date
}

function locationOf(text: string, type: ParamType, context: ParseContext): File | Dir {
  if (text.trim() === "") throw invalid(context, type, text)
  const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.startsWith("file:")
  const location = isUri ? text : resolve(context.cwd, text)
  return type.kind === "file" ? new File(location) : new Dir(location)
}
