/**
 * @module cli
 * The `reductio` command. Each subcommand lives in its own `<name>-command.ts` and registers
 * itself on the program; errors map to exit codes in one place ({@link main}).
 */
import { Command, CommanderError } from "commander"
import { exitCodeOf, isReductioError } from "../errors.js"
import { packageVersion } from "../package-root.js"
import { type CliIo, processIo } from "./io.js"
import { registerRunCommand } from "./run-command.js"
import { registerLogCommand } from "./log-command.js"
import { registerDbCommand } from "./db-command.js"
import { registerTagCommand } from "./tag-command.js"
import { registerPushPullCommands } from "./push-pull-command.js"
import { registerBundleCommand } from "./bundle-command.js"
import { registerImageCommand } from "./image-command.js"
import { registerAwsCommand } from "./aws-command.js"
import { registerSyncCommand } from "./sync-command.js"
import { registerBatchCommand } from "./batch-command.js"

/** A subcommand's registration: adds itself to the program; its action resolves to an exit code. */
export type CommandRegistration = (program: Command, io: CliIo, done: (exitCode: number) => void) => void

const registrations: CommandRegistration[] = [
  registerRunCommand,
  registerLogCommand,
  registerDbCommand,
  registerTagCommand,
  registerPushPullCommands,
  registerBundleCommand,
  registerImageCommand,
  registerAwsCommand,
  registerSyncCommand,
  registerBatchCommand,
]

/**
 * Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code.
 *
 * @example
 * process.exitCode = await main(["run", "examples/hello.ts", "main"])
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  // The AWS SDK's notice about Node 20's support window is not the user's concern: off for every
  // client this process (or a subprocess it starts) creates.
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  let exitCode = 0
  const program = new Command("reductio")
    .description("Run TypeScript workflows with call caching and provenance, locally or on AWS.")
    .version(packageVersion(), "-V, --version")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run reductio --help for usage)")
  for (const register of registrations) register(program, io, (code) => (exitCode = code))
  try {
    await program.parseAsync([...argv], { from: "user" })
    return exitCode
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2
    io.err(`${formatError(error)}\n`)
    return exitCodeOf(error)
  }
}

/** The one-line (or few-line) form of an error for the terminal. */
export function formatError(error: unknown): string {
  if (isReductioError(error)) return `error [${error.code}]: ${error.message}`
  if (error instanceof Error) return `error: ${error.stack ?? error.message}`
  return `error: ${String(error)}`
}
