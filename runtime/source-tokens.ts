/**
 * @module source-tokens
 * A small tokenizer for TypeScript and JavaScript source, enough to read the parameter lists of
 * task declarations: identifiers, literals and punctuation, with strings, template literals,
 * comments and regular expressions skipped as single tokens, and each `/** … *\/` comment kept
 * on the token that follows it.
 */

/** One token of source text. */
export interface SourceToken {
  readonly kind: "ident" | "string" | "number" | "template" | "regex" | "punct"
  /** The token's text: an identifier, a punctuator, or a literal as written. */
  readonly text: string
  readonly start: number
  readonly end: number
  /** The doc comment (`/** … *\/`) right before this token, without its delimiters. */
  readonly doc?: string
  /** A line break separates this token from the one before. */
  readonly newlineBefore: boolean
}

const IDENT_START = /[A-Za-z_$\u00a0-\uffff]/
const IDENT_PART = /[\w$\u00a0-\uffff]/
const MULTI_PUNCT = ["...", "=>", "?."] as const
/** After these, a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await"])

/**
 * Splits source text into tokens. Never throws: an unterminated literal or comment runs to the
 * end of the text.
 *
 * @example
 * tokenize("const x = task('a', (n: number) => n)").map((t) => t.text)
 */
export function tokenize(source: string): SourceToken[] {
  const tokens: SourceToken[] = []
  let i = 0
  let doc: string | undefined
  let newline = false
  while (i < source.length) {
    const ch = source[i] as string
    if (ch === "\n") {
      newline = true
      i++
      continue
    }
    if (/\s/.test(ch)) {
      i++
      continue
    }
    if (ch === "/" && source[i + 1] === "/") {
      i = lineEnd(source, i)
      continue
    }
    if (ch === "/" && source[i + 1] === "*") {
      const close = source.indexOf("*/", i + 2)
      const end = close < 0 ? source.length : close + 2
      if (source[i + 2] === "*" && source[i + 3] !== "/") doc = source.slice(i + 3, close < 0 ? end : close)
      if (source.slice(i, end).includes("\n")) newline = true
      i = end
      continue
    }
    const start = i
    let kind: SourceToken["kind"]
    if (ch === '"' || ch === "'") {
      i = stringEnd(source, i)
      kind = "string"
    } else if (ch === "`") {
      i = templateEnd(source, i)
      kind = "template"
    } else if (IDENT_START.test(ch)) {
      while (i < source.length && IDENT_PART.test(source[i] as string)) i++
      kind = "ident"
    } else if (/\d/.test(ch) || (ch === "." && /\d/.test(source[i + 1] ?? ""))) {
      while (i < source.length && /[\w.]/.test(source[i] as string)) i++
      kind = "number"
    } else if (ch === "/" && regexAllowed(tokens[tokens.length - 1])) {
      i = regexEnd(source, i)
      kind = "regex"
    } else {
      const multi = MULTI_PUNCT.find((punct) => source.startsWith(punct, i))
      i += multi?.length ?? 1
      kind = "punct"
    }
    const token: SourceToken = { kind, text: source.slice(start, i), start, end: i, newlineBefore: newline }
    tokens.push(doc === undefined ? token : { ...token, doc })
    doc = undefined
    newline = false
  }
  return tokens
}

function lineEnd(source: string, i: number): number {
  const end = source.indexOf("\n", i)
  return end < 0 ? source.length : end
}

function stringEnd(source: string, i: number): number {
  const quote = source[i]
  for (let j = i + 1; j < source.length; j++) {
    const ch = source[j]
    if (ch === "\\") j++
    else if (ch === quote || ch === "\n") return j + 1
  }
  return source.length
}

/** The end of a template literal, its `${…}` substitutions (which may hold templates) included. */
function templateEnd(source: string, i: number): number {
  for (let j = i + 1; j < source.length; j++) {
    const ch = source[j]
    if (ch === "\\") j++
    else if (ch === "`") return j + 1
    else if (ch === "$" && source[j + 1] === "{") j = substitutionEnd(source, j + 2) - 1
  }
  return source.length
}

/** The index after the `}` that closes a substitution starting at `i`. */
function substitutionEnd(source: string, i: number): number {
  let depth = 1
  let j = i
  while (j < source.length) {
    const ch = source[j] as string
    if (ch === '"' || ch === "'") j = stringEnd(source, j)
    else if (ch === "`") j = templateEnd(source, j)
    else if (ch === "/" && source[j + 1] === "/") j = lineEnd(source, j)
    else if (ch === "/" && source[j + 1] === "*") j = source.indexOf("*/", j + 2) < 0 ? source.length : source.indexOf("*/", j + 2) + 2
    else {
      if (ch === "{") depth++
      else if (ch === "}" && --depth === 0) return j + 1
      j++
    }
  }
  return source.length
}

function regexAllowed(previous: SourceToken | undefined): boolean {
  if (previous === undefined) return true
  if (previous.kind === "ident") return REGEX_AFTER_WORD.has(previous.text)
  if (previous.kind === "punct") return !")]}".includes(previous.text)
  return false
}

function regexEnd(source: string, i: number): number {
  let inClass = false
  for (let j = i + 1; j < source.length; j++) {
    const ch = source[j]
    if (ch === "\\") j++
    else if (ch === "\n") return j
    else if (ch === "[") inClass = true
    else if (ch === "]") inClass = false
    else if (ch === "/" && !inClass) {
      let end = j + 1
      while (end < source.length && /[a-z]/i.test(source[end] as string)) end++
      return end
    }
  }
  return source.length
}

const OPEN: Readonly<Record<string, string>> = { "(": ")", "[": "]", "{": "}" }

/**
 * The index of the token closing the bracket at `open` (`(`, `[` or `{`; with `angles`, `<` too),
 * or `tokens.length` when it is not closed.
 */
export function closingIndex(tokens: readonly SourceToken[], open: number, angles = false): number {
  const stack: string[] = []
  for (let i = open; i < tokens.length; i++) {
    const text = (tokens[i] as SourceToken).text
    if ((tokens[i] as SourceToken).kind !== "punct") continue
    const close = OPEN[text] ?? (angles && text === "<" ? ">" : undefined)
    if (close !== undefined) stack.push(close)
    else if (text === stack[stack.length - 1]) {
      stack.pop()
      if (stack.length === 0) return i
    }
  }
  return tokens.length
}

/**
 * Splits `tokens[from, to)` at the commas outside any bracket (`<>` counted with `angles`).
 * Returns [start, end) index pairs; an empty trailing part is dropped.
 */
export function splitTopLevel(tokens: readonly SourceToken[], from: number, to: number, angles = false): [number, number][] {
  const parts: [number, number][] = []
  let depth = 0
  let start = from
  for (let i = from; i < to; i++) {
    const token = tokens[i] as SourceToken
    if (token.kind !== "punct") continue
    if (token.text in OPEN || (angles && token.text === "<")) depth++
    else if (")]}".includes(token.text) || (angles && token.text === ">")) depth--
    else if (token.text === "," && depth === 0) {
      parts.push([start, i])
      start = i + 1
    }
  }
  if (start < to) parts.push([start, to])
  return parts
}
