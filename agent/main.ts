/**
 * @module agent
 * The container entrypoint: `node agent.js --code <uri> --input <uri> --scratch <root> [--index N]`
 * (flags and environment variables: see args.ts; exit codes: see run-job.ts). Built by
 * agent/build.js into one self-contained file, agent/dist/agent.js, holding the kernel and its
 * dependencies: only `node` is needed at run time.
 */
import * as kernel from "../runtime/index.js"
import { runAgent } from "./run-job.js"

const exitCode = await runAgent({ argv: process.argv.slice(2), env: process.env, kernel: { ...kernel } })
// Exit explicitly: a task may leave timers or sockets open, and a container must not hang on them.
// Flush both streams first so the tail of the output reaches a pipe.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()))
process.exit(exitCode)
