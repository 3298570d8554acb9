/**
 * @module agent
 * The container entrypoint: `node agent.js --code <uri> --input <uri> --scratch <root> [--index N]`
 * (flags and environment variables: see args.ts; exit codes: see run-job.ts), or
 * `node agent.js --serve`, a reusable worker that runs job requests from stdin (serve.ts). Built by
 * agent/build.js into one self-contained file, agent/dist/agent.js, holding the kernel and its
 * dependencies: only `node` is needed at run time.
 */
import * as kernel from "../runtime/index.js"
import { runAgent } from "./run-job.js"
import { serveAgent } from "./serve.js"

const argv = process.argv.slice(2)
const exitCode =
  argv.length === 1 && argv[0] === "--serve"
    ? await serveAgent({ env: process.env, kernel: { ...kernel } }, process.stdin)
    : await runAgent({ argv, env: process.env, kernel: { ...kernel } })
// Exit explicitly: a task may leave timers or sockets open, and a container must not hang on them.
// Flush both streams first so the tail of the output reaches a pipe.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()))
process.exit(exitCode)
