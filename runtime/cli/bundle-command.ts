/**
 * @module bundle-command
 * `reductio bundle <workflow> [--scratch dir] [--json]`: bundles a workflow as the remote executors
 * ship it and prints its sha256, size and the files inside; with `--scratch`, uploads it to
 * `<scratch>/code/<sha256>.tar.gz` unless already there.
 */
import { resolve } from "node:path"
import { exitCodeOf } from "../errors.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"

interface BundleFlags {
  scratch?: string
  json?: boolean
}

export const registerBundleCommand: CommandRegistration = (program, io, done) => {
  program
    .command("bundle")
    .summary("bundle a workflow as remote executors ship it")
    .description("Bundles the workflow and its imports into a reproducible tar.gz named by its sha256, and prints what it holds.")
    .argument("<workflow>", "the workflow entry file")
    .option("--scratch <dir>", "upload to <dir>/code/<sha256>.tar.gz unless already there")
    .option("--json", "print JSON")
    .action(async (workflow: string, flags: BundleFlags) => done(await bundleCommand(io, workflow, flags)))
}

async function bundleCommand(io: CliIo, workflow: string, flags: BundleFlags): Promise<number> {
  try {
    const { bundle } = await import("../../bundler/bundle.js")
    const scratch =
      flags.scratch === undefined
        ? undefined
        : /^[a-z][a-z0-9+.-]*:\/\//i.test(flags.scratch)
          ? flags.scratch
          : resolve(io.cwd, flags.scratch)
    const built = await bundle(resolve(io.cwd, workflow), scratch === undefined ? {} : { scratch })
    const summary = {
      sha256: built.sha256,
      size: built.bytes.length,
      files: built.files,
      sources: built.inputs,
      ...(built.uri === undefined ? {} : { uri: built.uri, uploaded: built.uploaded }),
    }
    if (flags.json === true) {
      io.out(`${JSON.stringify(summary, null, 2)}\n`)
      return 0
    }
    const width = built.files.reduce((widest, file) => Math.max(widest, file.path.length), 0)
    const lines = [
      `sha256  ${built.sha256}`,
      `size    ${formatBytes(built.bytes.length)}`,
      "files",
      ...built.files.map((file) => `  ${file.path.padEnd(width)}  ${formatBytes(file.size)}`),
      `sources ${built.inputs.length} module${built.inputs.length === 1 ? "" : "s"}`,
      ...(built.uri === undefined ? [] : [`${built.uploaded ? "uploaded to" : "already at"} ${built.uri}`]),
    ]
    io.out(`${lines.join("\n")}\n`)
    return 0
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    return exitCodeOf(error)
  }
}

function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`
  return `${(size / 1024 / 1024).toFixed(1)} MiB`
}
