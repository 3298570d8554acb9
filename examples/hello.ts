/**
 * Hello world: one task, run two ways.
 *
 *   npx reductio run examples/hello.ts main --name Ada
 *   npx tsx examples/hello.ts
 */
import { run, task } from "reductio-workflow"

export const greet = task("greet", (name: string) => `Hello, ${name}!`)

export const main = task("main", (name: string = "world") => greet(name))

await run(main, "world")
