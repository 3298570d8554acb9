/**
 * Recursion: a task returns a call of itself, and the scheduler reduces it. Each call is cached
 * on its own, so fib(30) after fib(25) only computes the new calls.
 *
 *   npx reductio run examples/recursive.ts fib --n 25
 *   npx reductio run examples/recursive.ts countdown --n 10000
 */
import { cond, type Lazy, run, task } from "reductio-workflow"

export const add = task("add", (a: number, b: number) => a + b)

export const fib = task("fib", (n: number): number | Lazy<number> => (n < 2 ? n : add(fib(n - 1), fib(n - 2))))

export const isZero = task("isZero", (n: number) => n === 0)

/** A recursion 10,000 deep: the scheduler's stack does not grow with it. */
export const countdown = task("countdown", (n: number): Lazy<string> => cond(isZero(n), "liftoff", countdown(n - 1)))

/** A tree walk with data-dependent fan-out: the size of each level is known only when it runs. */
export const treeSize = task("treeSize", (depth: number, branching: number): number | Lazy<number> => {
  if (depth === 0) return 1
  const children = Array.from({ length: branching }, () => treeSize(depth - 1, branching))
  return total(children)
})

export const total = task("total", (sizes: number[]) => 1 + sizes.reduce((a, b) => a + b, 0))

await run(fib, 20)
