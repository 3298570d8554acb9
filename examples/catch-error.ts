/**
 * Errors propagate like exceptions; catchError stops them. Here every record is parsed, the bad
 * ones fail with a code, and the workflow turns those failures into a report instead of failing.
 *
 *   npx reductio run examples/catch-error.ts main
 */
import { catchError, run, task } from "reductio-workflow"

class ParseError extends Error {
  readonly code = "PARSE_ERROR"
  override readonly name = "ParseError"
}

export const parse = task("parse", (line: string) => {
  const [name, value] = line.split("=")
  const number = Number(value)
  if (name === undefined || value === undefined || Number.isNaN(number)) throw new ParseError(`cannot parse ${JSON.stringify(line)}`)
  return { name: name.trim(), value: number }
})

export const reportFailure = task("reportFailure", (error: Error) => ({ name: "?", value: 0, problem: error.message }))

export const summarize = task("summarize", (records: { name: string; value: number; problem?: string }[]) => ({
  total: records.reduce((sum, record) => sum + record.value, 0),
  problems: records.filter((record) => record.problem !== undefined).map((record) => record.problem),
}))

export const main = task("main", (lines: string[] = ["a = 1", "b = 2", "oops", "c = x", "d = 4"]) =>
  summarize(lines.map((line) => catchError(parse(line), reportFailure, { codes: ["PARSE_ERROR"] }))),
)

await run(main)
