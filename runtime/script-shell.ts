/**
 * @module script-shell
 * How `script()` runs its command: a shell in its own process group (so cancelling ends it and
 * everything it started), with the environment the call asks for plus the secret variables it
 * names, read from the environment of the process that runs it. Secret values are masked in the
 * stderr the shell writes (the job's log) and in the tail kept for an error, so they reach neither
 * the database nor the scratch store.
 */
import { spawn } from "node:child_process"
import { closeSync, constants as fsConstants, openSync } from "node:fs"
import { access, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { ReductioError } from "./errors.js"

/** What a script call carries about its shell (all of it is part of the call's arguments). */
export interface ShellConfig {
  readonly env?: Readonly<Record<string, string>>
  readonly shell?: string
  /** Names of environment variables to pass on; their values are read when the script runs. */
  readonly secretEnv?: readonly string[]
}

/** A variable name as POSIX shells take it. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

const STDERR_TAIL = 4096
/** How long a script gets between SIGTERM and SIGKILL once its run is cancelled. */
const KILL_GRACE_MS = 3_000
/** Where the mask stands in for a secret value. */
const MASK = "***"

type Child = ReturnType<typeof spawn>

/**
 * Runs `command` in `work` with its standard output in `<root>/stdout`. Rejects SCRIPT_FAILED on a
 * non-zero exit, CANCELLED when `abort` fires (or the shell is interrupted), SECRET_MISSING when a
 * named secret variable is not set.
 */
export async function runShell(command: string, config: ShellConfig, root: string, work: string, abort: AbortSignal): Promise<void> {
  const secrets = readSecrets(config.secretEnv ?? [], command)
  const shell = config.shell ?? (await defaultShell())
  const strict = shell.endsWith("bash") ? "set -euo pipefail" : "set -eu"
  const scriptPath = join(root, "command.sh")
  await writeFile(scriptPath, `${strict}\n${command}\n`)
  if (abort.aborted) throw cancelled(command, "before it started")
  const mask = masker(Object.values(secrets))
  const stdoutFd = openSync(join(root, "stdout"), "w")
  let tail = ""
  let stop: (() => void) | undefined
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    const child = spawn(shell, [scriptPath], {
      cwd: work,
      env: { ...process.env, ...config.env, ...secrets },
      stdio: ["ignore", stdoutFd, "pipe"],
      detached: true,
    })
    liveGroups.track(child)
    stop = () => terminate(child)
    abort.addEventListener("abort", stop, { once: true })
    const stderr = maskedLines(mask, (text) => {
      // The job's log (the agent captures the process's stderr) shows the tool's own messages.
      process.stderr.write(text)
      tail = (tail + text).slice(-STDERR_TAIL)
    })
    child.stderr?.on("data", (chunk: Buffer) => stderr.write(chunk.toString("utf8")))
    child.once("error", fail)
    child.once("close", (code, signal) => {
      stderr.end()
      done({ code, signal })
    })
  }).finally(() => {
    closeSync(stdoutFd)
    if (stop !== undefined) abort.removeEventListener("abort", stop)
  })
  if (exit.code === 0) return
  // An interrupt sent to the shell itself is a cancellation too.
  if (abort.aborted || exit.signal === "SIGINT") throw cancelled(command, `while running (${exit.signal ?? `exit code ${exit.code}`})`)
  const how = exit.signal === null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`
  throw new ReductioError("SCRIPT_FAILED", `script ${how}: ${firstLine(command)}\n${tail.trimEnd()}`, {
    details: { exitCode: exit.code, signal: exit.signal, stderrTail: tail, command },
  })
}

/** The named variables from this process's environment; SECRET_MISSING names the first unset one. */
function readSecrets(names: readonly string[], command: string): Record<string, string> {
  const secrets: Record<string, string> = {}
  for (const name of names) {
    const value = process.env[name]
    if (value === undefined || value === "") {
      throw new ReductioError(
        "SECRET_MISSING",
        `script (${firstLine(command)}) needs the secret environment variable ${name}, which is not set where it runs: export it on the host (local and process executors) or map it in the aws_batch executor's secrets`,
        { details: { name } },
      )
    }
    secrets[name] = value
  }
  return secrets
}

/** Replaces every secret value in a text by the mask (longest first, so a value inside another goes too). */
function masker(values: readonly string[]): ((text: string) => string) | undefined {
  const secrets = [...new Set(values)].filter((value) => value.length > 0).sort((a, b) => b.length - a.length)
  if (secrets.length === 0) return undefined
  return (text) => secrets.reduce((masked, secret) => masked.split(secret).join(MASK), text)
}

/**
 * Passes text on whole lines at a time, masked, so a secret split across two chunks is still
 * found; a line longer than 64 KiB goes out as it is (masked) without waiting for its end.
 */
function maskedLines(mask: ((text: string) => string) | undefined, emit: (text: string) => void) {
  let pending = ""
  return {
    write(text: string): void {
      if (mask === undefined) {
        emit(text)
        return
      }
      pending += text
      const end = pending.lastIndexOf("\n") + 1
      const cut = end > 0 ? end : pending.length > 65_536 ? pending.length : 0
      if (cut === 0) return
      emit(mask(pending.slice(0, cut)))
      pending = pending.slice(cut)
    },
    end(): void {
      if (pending !== "") emit(mask === undefined ? pending : mask(pending))
      pending = ""
    },
  }
}

/** Signals a script's process group (the shell and what it started); gone already is fine. */
function signalGroup(child: Child, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {}
}

/** SIGTERM to the script's process group now, SIGKILL if it is still there after a grace period. */
function terminate(child: Child): void {
  if (child.exitCode !== null || child.signalCode !== null) return
  const kill = setTimeout(() => signalGroup(child, "SIGKILL"), KILL_GRACE_MS)
  kill.unref()
  child.once("close", () => clearTimeout(kill))
  signalGroup(child, "SIGTERM")
}

/**
 * Script process groups still running. A script is not in the terminal's process group, so when
 * the host exits (a second Ctrl-C exits at once) it ends them rather than leave them running.
 */
const liveGroups = {
  children: new Set<Child>(),
  hooked: false,
  track(child: Child): void {
    this.children.add(child)
    child.once("close", () => this.children.delete(child))
    if (this.hooked) return
    this.hooked = true
    process.once("exit", () => {
      for (const running of this.children) signalGroup(running, "SIGKILL")
    })
  },
}

function cancelled(command: string, when: string): ReductioError {
  return new ReductioError("CANCELLED", `script cancelled ${when}: ${firstLine(command)}`, { details: { command } })
}

/** True when a path exists. */
export async function exists(path: string): Promise<boolean> {
  return access(path, fsConstants.F_OK).then(
    () => true,
    () => false,
  )
}

let shellChoice: Promise<string> | undefined
function defaultShell(): Promise<string> {
  shellChoice ??= (async () => {
    for (const candidate of ["/bin/bash", "/usr/bin/bash"]) if (await exists(candidate)) return candidate
    return "/bin/sh"
  })()
  return shellChoice
}

/** A command's first line, shortened, for messages. */
export function firstLine(command: string): string {
  const line = command.trim().split("\n")[0] ?? ""
  return line.length > 80 ? `${line.slice(0, 77)}...` : line
}
