/**
 * @module sync-command
 * `reductio sync <source> <target>`: makes the target directory (local or `s3://` prefix) hold
 * what the source holds, copying only files whose size or content differs; `--delete` removes the
 * target's extra files. On a terminal a progress bar (files and bytes) runs on stderr; a summary,
 * or with `--json` one JSON object as the last line, goes to stdout.
 */
import { loadConfig } from "../config/load-config.js"
import { exitCodeOf, ReductioError } from "../errors.js"
import { type SyncProgress, type SyncResult, syncDirectories } from "../storage/sync.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"
import { formatBytes, SyncProgressBar } from "./sync-progress.js"

interface SyncFlags {
  delete?: boolean
  include: string[]
  exclude: string[]
  dryRun?: boolean
  json?: boolean
  quiet?: boolean
  concurrency?: string
  config?: string
}

const collect = (value: string, previous: string[]) => [...previous, value]

export const registerSyncCommand: CommandRegistration = (program, io, done) => {
  program
    .command("sync")
    .summary("copy a directory to another (local or S3), only the files that differ")
    .description(
      "Make <target> hold what <source> holds: local to S3, S3 to local, S3 to S3 or local to local.\n" +
        "A file is copied when the target lacks it or its size or content differs (S3 ETags against local MD5s,\n" +
        "computed once and cached). Files only in the target are deleted only with --delete.\n" +
        "Globs match paths relative to the roots; one without / matches the file name at any depth.",
    )
    .argument("<source>", "a directory or s3://bucket/prefix")
    .argument("<target>", "a directory or s3://bucket/prefix")
    .option("--delete", "delete files of the target that the source does not have")
    .option("--include <glob>", "only paths matching this glob (repeatable)", collect, [])
    .option("--exclude <glob>", "leave out paths matching this glob (repeatable)", collect, [])
    .option("--dry-run", "print what would be copied and deleted, and do nothing")
    .option("--concurrency <n>", "files transferred at once (default 16)")
    .option("--json", "print one JSON object as the last line: copied, skipped, deleted, bytes")
    .option("-q, --quiet", "print nothing but errors (and the JSON with --json)")
    .option("--config <path>", "configuration file (its s3 settings apply)")
    .action(async (source: string, target: string, flags: SyncFlags) => done(await syncCommand(io, source, target, flags)))
}

async function syncCommand(io: CliIo, source: string, target: string, flags: SyncFlags): Promise<number> {
  const bar = io.isTTY && flags.json !== true && flags.quiet !== true ? new SyncProgressBar(io) : undefined
  try {
    await loadConfig(io.cwd, io.env, { configPath: flags.config })
    const started = Date.now()
    const result = await syncDirectories(source, target, {
      delete: flags.delete === true,
      include: flags.include,
      exclude: flags.exclude,
      dryRun: flags.dryRun === true,
      concurrency: parseConcurrency(flags.concurrency),
      ...(bar === undefined ? {} : { onProgress: (progress: SyncProgress) => bar.update(progress) }),
    })
    bar?.clear()
    report(io, result, flags, (Date.now() - started) / 1000)
    return 0
  } catch (error) {
    bar?.clear()
    io.err(`${formatFailure(error)}\n`)
    return exitCodeOf(error)
  }
}

function parseConcurrency(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > 1024)
    throw new ReductioError("INVALID_ARGUMENT", `--concurrency takes a whole number from 1 to 1024, got ${JSON.stringify(text)}`)
  return value
}

function report(io: CliIo, result: SyncResult, flags: SyncFlags, seconds: number): void {
  const counts = { copied: result.copied, skipped: result.skipped, deleted: result.deleted, bytes: result.bytes }
  if (flags.dryRun === true && flags.json !== true && flags.quiet !== true) {
    for (const action of result.actions) {
      io.out(action.action === "copy" ? `copy ${action.path} (${action.reason})\n` : `delete ${action.path}\n`)
    }
  }
  if (flags.json === true) {
    io.out(`${JSON.stringify(counts)}\n`)
    return
  }
  if (flags.quiet === true) return
  const verb = flags.dryRun === true ? "would copy" : "copied"
  const rate = seconds > 0 && flags.dryRun !== true ? `, ${formatBytes(result.bytes / seconds)}/s` : ""
  io.out(
    `${verb} ${result.copied} file${result.copied === 1 ? "" : "s"} (${formatBytes(result.bytes)}), skipped ${result.skipped} unchanged, ` +
      `${flags.dryRun === true ? "would delete" : "deleted"} ${result.deleted} in ${seconds.toFixed(1)} s${rate}\n`,
  )
}
