/**
 * @module task-signatures
 * Reads the declared signatures of the tasks in a workflow's source: for each `task("name", fn)`
 * call, the parameters of `fn` with their type annotations, defaults and doc comments, and the
 * file's type aliases (to resolve `type Mode = "fast" | "slow"`), and the function as written. The
 * command line reads signatures to parse flags by type and to print `--help`; task-source.ts reads
 * the function as written for the task hash and provenance.
 */
import { closingIndex, type SourceToken, splitTopLevel, tokenize } from "./source-tokens.js"

/** One parameter of a declared task function. */
export interface DeclaredParameter {
  /** The identifier, or `arg<i>` for a destructured parameter. */
  readonly name: string
  /** The type annotation as written, if any. */
  readonly type?: string | undefined
  /** The default value as written, if any. */
  readonly defaultText?: string | undefined
  /** Has `?`, a default, or is a rest parameter. */
  readonly optional: boolean
  readonly rest: boolean
  readonly doc?: string | undefined
}

/** A `task(...)` declaration found in source. */
export interface DeclaredTask {
  /** The name literal (without the namespace). */
  readonly name: string
  /** The `namespace` option, when written as a literal. */
  readonly namespace?: string | undefined
  /** The description of the declaration's doc comment. */
  readonly doc?: string | undefined
  readonly parameters: readonly DeclaredParameter[]
  /** The task function as written: its text, and its tokens joined by one space (no comments). */
  readonly written: { readonly text: string; readonly canonical: string }
}

/** What a source file declares. */
export interface SourceSignatures {
  readonly tasks: readonly DeclaredTask[]
  /** Type aliases by name (interfaces as `{}`), for resolving annotations. */
  readonly aliases: Readonly<Record<string, string>>
}

const STATEMENT_WORDS = new Set(["export", "const", "let", "var", "type", "interface", "function", "class", "import", "declare", "enum"])

/**
 * The task declarations and type aliases of a source file.
 *
 * @example
 * readSignatures(`export const main = task("main", (n: number, label = "x") => n)`).tasks[0]?.parameters
 */
export function readSignatures(source: string): SourceSignatures {
  const tokens = tokenize(source)
  const tasks: DeclaredTask[] = []
  const aliases: Record<string, string> = {}
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as SourceToken
    if (token.kind !== "ident") continue
    const previous = tokens[i - 1]
    if (previous?.text === "." || previous?.text === "?.") continue
    if ((token.text === "task" || token.text === "genericTask") && tokens[i + 1]?.text === "(") {
      const declared = readTaskCall(source, tokens, i)
      if (declared !== undefined) tasks.push(declared)
    } else if ((token.text === "type" || token.text === "interface") && tokens[i + 1]?.kind === "ident" && atStatementStart(tokens, i)) {
      const name = (tokens[i + 1] as SourceToken).text
      if (token.text === "interface") aliases[name] = "{}"
      else {
        const text = aliasText(source, tokens, i + 2)
        if (text !== undefined) aliases[name] = text
      }
    }
  }
  return { tasks, aliases }
}

function atStatementStart(tokens: readonly SourceToken[], i: number): boolean {
  const previous = tokens[i - 1]
  return (
    previous === undefined ||
    previous.text === "export" ||
    previous.text === "declare" ||
    previous.text === ";" ||
    previous.text === "}" ||
    tokens[i]?.newlineBefore === true
  )
}

/** The text of a type alias's right-hand side, starting at the token after its name. */
function aliasText(source: string, tokens: readonly SourceToken[], at: number): string | undefined {
  let i = at
  if (tokens[i]?.text === "<") i = closingIndex(tokens, i, true) + 1
  if (tokens[i]?.text !== "=") return undefined
  const start = i + 1
  let depth = 0
  for (let j = start; j < tokens.length; j++) {
    const token = tokens[j] as SourceToken
    if (depth === 0 && j > start && (token.text === ";" || (token.newlineBefore && STATEMENT_WORDS.has(token.text)))) {
      return source.slice((tokens[start] as SourceToken).start, (tokens[j - 1] as SourceToken).end)
    }
    if (token.kind !== "punct") continue
    if ("([{<".includes(token.text)) depth++
    else if (")]}>".includes(token.text)) depth--
  }
  const last = tokens[tokens.length - 1]
  return last === undefined || tokens[start] === undefined ? undefined : source.slice((tokens[start] as SourceToken).start, last.end)
}

/** Reads `task("name", fn, options?)` at `tokens[at]`; undefined when its shape is not literal. */
function readTaskCall(source: string, tokens: readonly SourceToken[], at: number): DeclaredTask | undefined {
  const nameToken = tokens[at + 2]
  if (nameToken === undefined || (nameToken.kind !== "string" && !isPlainTemplate(nameToken)) || tokens[at + 3]?.text !== ",")
    return undefined
  const fn = readFunction(source, tokens, at + 4)
  if (fn === undefined) return undefined
  const namespace = tokens[fn.end]?.text === "," && tokens[fn.end + 1]?.text === "{" ? namespaceOption(tokens, fn.end + 1) : undefined
  const doc = parseDoc(declarationDoc(tokens, at))
  const parameters = fn.parameters.map((parameter) =>
    parameter.doc === undefined && doc.params[parameter.name] !== undefined ? { ...parameter, doc: doc.params[parameter.name] } : parameter,
  )
  const fnTokens = tokens.slice(at + 4, fn.end)
  const first = fnTokens[0]
  const last = fnTokens[fnTokens.length - 1]
  const written = {
    text: first === undefined || last === undefined ? "" : source.slice(first.start, last.end),
    canonical: fnTokens.map((token) => token.text).join(" "),
  }
  return { name: nameToken.text.slice(1, -1), namespace, doc: doc.description, parameters, written }
}

function isPlainTemplate(token: SourceToken): boolean {
  return token.kind === "template" && !token.text.includes("${")
}

/** Parses a function expression at `tokens[at]`: its parameters and the index after it. */
function readFunction(
  source: string,
  tokens: readonly SourceToken[],
  at: number,
): { parameters: DeclaredParameter[]; end: number } | undefined {
  let i = at
  if (tokens[i]?.text === "async" && tokens[i + 1]?.text !== "=>" && tokens[i + 1]?.text !== ",") i++
  const isFunction = tokens[i]?.text === "function"
  if (isFunction) {
    i++
    if (tokens[i]?.text === "*") i++
    if (tokens[i]?.kind === "ident") i++
  }
  if (tokens[i]?.text === "<") i = closingIndex(tokens, i, true) + 1
  let parameters: DeclaredParameter[]
  let afterParameters: number
  if (tokens[i]?.kind === "ident" && tokens[i + 1]?.text === "=>") {
    parameters = [{ name: (tokens[i] as SourceToken).text, optional: false, rest: false }]
    afterParameters = i + 1
  } else if (tokens[i]?.text === "(") {
    const close = closingIndex(tokens, i)
    parameters = splitTopLevel(tokens, i + 1, close, true).map(([from, to], index) => readParameter(source, tokens, from, to, index))
    afterParameters = close + 1
  } else return undefined
  return { parameters, end: functionEnd(tokens, afterParameters, isFunction) }
}

/** The index after a function's return type and body, starting right after its parameters. */
function functionEnd(tokens: readonly SourceToken[], at: number, isFunction: boolean): number {
  let i = at
  let depth = 0
  // A return type annotation: up to `=>` (arrow) or `{` (function) outside any bracket.
  if (tokens[i]?.text === ":") {
    for (i++; i < tokens.length; i++) {
      const text = (tokens[i] as SourceToken).text
      if (depth === 0 && (isFunction ? text === "{" : text === "=>")) break
      if ("([{<".includes(text)) depth++
      else if (")]}>".includes(text)) depth--
    }
  }
  if (!isFunction && tokens[i]?.text === "=>") i++
  if (tokens[i]?.text === "{") return closingIndex(tokens, i) + 1
  // An expression body: up to a `,` or `)` outside any bracket.
  depth = 0
  for (; i < tokens.length; i++) {
    const text = (tokens[i] as SourceToken).text
    if ((tokens[i] as SourceToken).kind !== "punct") continue
    if ("([{".includes(text)) depth++
    else if (")]}".includes(text)) {
      if (depth === 0) return i
      depth--
    } else if (text === "," && depth === 0) return i
  }
  return i
}

function readParameter(source: string, tokens: readonly SourceToken[], from: number, to: number, index: number): DeclaredParameter {
  let i = from
  const doc = tokens[from]?.doc === undefined ? undefined : parseDoc(tokens[from]?.doc).description
  const rest = tokens[i]?.text === "..."
  if (rest) i++
  let name = `arg${index}`
  if (tokens[i]?.kind === "ident") name = (tokens[i++] as SourceToken).text
  else if (tokens[i]?.text === "{" || tokens[i]?.text === "[") i = closingIndex(tokens, i) + 1
  let optional = rest
  if (tokens[i]?.text === "?") {
    optional = true
    i++
  }
  let type: string | undefined
  if (tokens[i]?.text === ":") {
    const start = i + 1
    let depth = 0
    for (i = start; i < to; i++) {
      const text = (tokens[i] as SourceToken).text
      if (depth === 0 && text === "=") break
      if ("([{<".includes(text)) depth++
      else if (")]}>".includes(text)) depth--
    }
    if (i > start) type = source.slice((tokens[start] as SourceToken).start, (tokens[i - 1] as SourceToken).end)
  }
  let defaultText: string | undefined
  if (tokens[i]?.text === "=" && i + 1 < to) {
    defaultText = source.slice((tokens[i + 1] as SourceToken).start, (tokens[to - 1] as SourceToken).end)
    optional = true
  }
  return { name, type, defaultText, optional, rest, doc }
}

/** The `namespace: "…"` entry of an options object literal starting at `tokens[open]`. */
function namespaceOption(tokens: readonly SourceToken[], open: number): string | undefined {
  const close = closingIndex(tokens, open)
  for (const [from] of splitTopLevel(tokens, open + 1, close)) {
    if (tokens[from]?.text === "namespace" && tokens[from + 1]?.text === ":" && tokens[from + 2]?.kind === "string") {
      return (tokens[from + 2] as SourceToken).text.slice(1, -1)
    }
  }
  return undefined
}

/** The doc comment of the statement holding the `task(` call at `at` (`export const x = task(`). */
function declarationDoc(tokens: readonly SourceToken[], at: number): string | undefined {
  for (let i = at; i >= 0 && i >= at - 6; i--) {
    const token = tokens[i] as SourceToken
    if (token.doc !== undefined) return token.doc
    if (i < at && (token.text === ";" || token.text === "}" || token.text === ")")) return undefined
  }
  return undefined
}

/** A doc comment's description and its `@param name text` entries. */
export function parseDoc(doc: string | undefined): { description: string | undefined; params: Record<string, string> } {
  if (doc === undefined) return { description: undefined, params: {} }
  const lines = doc.split("\n").map((line) => line.replace(/^\s*\*?\s?/, "").trimEnd())
  const description: string[] = []
  const params: Record<string, string> = {}
  let current: string | undefined
  let inTags = false
  for (const line of lines) {
    const param = /^@param\s+(?:\{[^}]*\}\s*)?\[?([A-Za-z_$][\w$]*)[^\s]*\s*(?:-\s*)?(.*)$/.exec(line)
    if (param !== null) {
      inTags = true
      current = param[1] as string
      params[current] = (param[2] ?? "").trim()
    } else if (line.startsWith("@")) {
      inTags = true
      current = undefined
    } else if (inTags) {
      if (current !== undefined && line.trim() !== "") params[current] = `${params[current]} ${line.trim()}`.trim()
    } else description.push(line)
  }
  const text = description.join("\n").trim()
  return { description: text === "" ? undefined : text, params }
}
