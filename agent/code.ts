/**
 * @module code
 * Fetches a code bundle, verifies it against its sha256 name (BUNDLE_TAMPERED otherwise), extracts
 * it safely and links the agent's kernel in. Extractions are cached under the work directory by
 * bundle hash (and kernel shim), so the agents of an array on one host extract once.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { ReductioError } from "../runtime/errors.js"
import { extractSafely } from "./extract.js"
import { kernelShim, shimFingerprint } from "./kernel-link.js"
import type { ScratchIo } from "./scratch-io.js"

const BUNDLE_NAME = /(?:^|\/)([0-9a-f]{64})\.tar\.gz$/
const MANIFEST = "reductio-bundle.json"
const DEFAULT_ENTRY = "workflow.mjs"

/** An extracted, verified bundle ready to import. */
export interface LoadedCode {
  readonly sha256: string
  readonly dir: string
  /** Absolute path of the module to import. */
  readonly entry: string
  /** True when an earlier agent had already extracted it. */
  readonly cached: boolean
}

/**
 * Makes the bundle at `codeUri` available under `workdir` and returns its entry module.
 *
 * @example
 * const { entry } = await loadCode("/scratch/code/ab…12.tar.gz", localScratchIo, "/tmp/reductio-code", kernel)
 */
export async function loadCode(codeUri: string, io: ScratchIo, workdir: string, kernel: Record<string, unknown>): Promise<LoadedCode> {
  const expected = BUNDLE_NAME.exec(codeUri)?.[1]
  if (expected === undefined) {
    throw new ReductioError("INVALID_ARGUMENT", `code bundle ${codeUri} is not named <sha256>.tar.gz, so it cannot be verified`)
  }
  const shim = kernelShim(kernel)
  const dir = join(workdir, `${expected}-${shimFingerprint(shim)}`)
  const ready = await stat(join(dir, MANIFEST)).catch(() => undefined)
  if (ready !== undefined) return { sha256: expected, dir, entry: join(dir, await entryOf(dir)), cached: true }

  const bytes = await io.read(codeUri)
  if (bytes === undefined) throw new ReductioError("FILE_NOT_FOUND", `no code bundle at ${codeUri}`, { details: { uri: codeUri } })
  const actual = createHash("sha256").update(bytes).digest("hex")
  if (actual !== expected) {
    throw new ReductioError("BUNDLE_TAMPERED", `code bundle ${codeUri} has sha256 ${actual}, not the ${expected} it is named by`, {
      details: { expected, actual },
    })
  }
  await mkdir(workdir, { recursive: true })
  const staging = join(workdir, `.${expected}-${randomBytes(6).toString("hex")}`)
  await mkdir(staging)
  try {
    await extractSafely(bytes, staging)
    for (const file of shim) {
      await mkdir(join(staging, file.path, ".."), { recursive: true })
      // "wx": a bundle must not bring its own `reductio` (nor a link in its place).
      await writeFile(join(staging, file.path), file.text, { flag: "wx" })
    }
    await rename(staging, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another agent finished first: its copy is identical.
      if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error
      await rm(staging, { recursive: true, force: true })
    })
  } catch (error) {
    await rm(staging, { recursive: true, force: true })
    throw error
  }
  return { sha256: expected, dir, entry: join(dir, await entryOf(dir)), cached: false }
}

async function entryOf(dir: string): Promise<string> {
  const text = await readFile(join(dir, MANIFEST), "utf8").catch(() => undefined)
  if (text === undefined) return DEFAULT_ENTRY
  const manifest = JSON.parse(text) as { entry?: unknown }
  const entry = typeof manifest.entry === "string" ? manifest.entry : DEFAULT_ENTRY
  if (entry.includes("..") || entry.startsWith("/"))
    throw new ReductioError("UNSAFE_ARCHIVE", `bundle manifest names entry ${JSON.stringify(entry)}`)
  return entry
}
