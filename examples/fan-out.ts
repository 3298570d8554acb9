/**
 * A fan-out: one call per item, all independent, reduced in parallel and then summed.
 * Rerun it and every call is replayed from the cache.
 *
 *   npx reductio run examples/fan-out.ts main --n 1000
 */
import { run, task } from "reductio-workflow"

export const square = task("square", (x: number) => x * x)

export const sum = task("sum", (values: number[]) => values.reduce((total, value) => total + value, 0))

export const main = task("main", (n: number = 100) => sum(Array.from({ length: n }, (_, i) => square(i))))

await run(main, 100)
