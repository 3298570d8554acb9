/**
 * Higher-order workflows, as ported from redun: tasks passed as values, partial application,
 * functools, tuple results, lazy method calls and a context value read deep in the graph.
 *
 *   npx reductio run examples/higher-order.ts main --words '["graph", "reduction", "works"]'
 *   npx reductio run examples/higher-order.ts main --words '["a", "b"]' --context report.prefix=">> "
 */
import { compose, getContext, type Lazy, map, run, starmap, type Task, task, zip } from "reductio-workflow"

export const length = task("length", (word: string) => word.length)
export const double = task("double", (n: number) => n * 2)
export const add = task("add", (a: number, b: number) => a + b)

/** Folds a list with a task given as a value: each step is a call of that task, recorded. */
export const fold = task("fold", (step: Task<[number, number], number>, start: number, values: number[]) =>
  values.reduce<number | Lazy<number>>((total, value) => step(total, value), start),
)

/** Splits words into the short and the long ones: a tuple result destructures. */
export const partition = task("partition", (words: string[]): [string[], string[]] => [
  words.filter((word) => word.length <= 4),
  words.filter((word) => word.length > 4),
])

/** The only task that reads the context: changing report.prefix reruns only this. */
export const report = task("report", (total: number, short: string[], pairs: number[]) => {
  const prefix = getContext("report.prefix", "")
  return `${prefix}total ${total}; short: ${short.join(",") || "-"}; pairs: ${pairs.join(",")}`
})

export const main = task("main", (words: string[] = ["graph", "reduction", "works"]) => {
  const lengths = map(compose(double, length), words)
  const total = fold(add, 0, lengths)
  const [short] = partition(words)
  const pairs = starmap(add, zip(lengths, map(add.partial(100), lengths)))
  return report(total, short, pairs).toUpperCase()
})

await run(main)
