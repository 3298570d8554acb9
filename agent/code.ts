/**
 * @module code
 * Fetches a code bundle, verifies it against its sha256 name (BUNDLE_TAMPERED otherwise), extracts
 * it safely within limits and links the agent's kernel in. Extractions are cached under the
 * (private) work directory by bundle hash and kernel shim, so the agents of an array on one host
 * extract once: each is extracted into a fresh directory, sealed (seal.ts) and renamed into place
 * whole, and a cached one is imported only after it matches its seal (else it is extracted again).
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createGunzip } from "node:zlib"
import { ReductioError } from "../runtime/errors.js"
import { PACKAGE_NAME } from "../runtime/package-name.js"
import { type ArchiveTree, entryParts, unsafe } from "./archive-tree.js"
import { type ArchiveLimits, DEFAULT_ARCHIVE_LIMITS, extractSafely } from "./extract.js"
import { type ShimFile, kernelShim, shimFingerprint } from "./kernel-link.js"
import type { ScratchIo } from "./scratch-io.js"
import { SEAL_FILE, checkSeal, writeSeal } from "./seal.js"

const BUNDLE_NAME = /(?:^|\/)([0-9a-f]{64})\.tar\.gz$/
const MANIFEST = "reductio-bundle.json"
const DEFAULT_ENTRY = "workflow.mjs"
/**
 * Written at the root of a bundle that has no package.json: it makes the bundle its own package
 * scope, so `import "reductio-workflow"` resolves to the shim in its node_modules even when the work
 * directory sits inside a package named `reductio-workflow` (Node resolves a package's own name first).
 */
const SCOPE_PACKAGE: ShimFile = { path: "package.json", text: `${JSON.stringify({ private: true })}\n` }

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
 * Makes the bundle at `codeUri` available under `workdir` (a private directory: work-dir.ts) and
 * returns its entry module.
 *
 * @example
 * const { entry } = await loadCode("/scratch/code/ab…12.tar.gz", localScratchIo, await privateWorkDir(undefined), kernel)
 */
export async function loadCode(
  codeUri: string,
  io: ScratchIo,
  workdir: string,
  kernel: Record<string, unknown>,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<LoadedCode> {
  const expected = BUNDLE_NAME.exec(codeUri)?.[1]
  if (expected === undefined) {
    throw new ReductioError("INVALID_ARGUMENT", `code bundle ${codeUri} is not named <sha256>.tar.gz, so it cannot be verified`)
  }
  const shim = kernelShim(kernel)
  const dir = join(workdir, `${expected}-${shimFingerprint(shim)}`)
  const state = await checkSeal(dir, expected)
  if (state === "sealed") return { sha256: expected, dir, entry: join(dir, ...(await entryOf(dir))), cached: true }
  if (state === "broken") {
    console.error(`reductio agent: the cached extraction ${dir} does not match its seal (changed or incomplete); extracting again`)
    await discard(workdir, dir)
  }
  const bytes = await readBundle(codeUri, io, expected, limits)
  const staging = await mkdtemp(join(workdir, `.${expected.slice(0, 12)}-`))
  let entry: string[]
  try {
    const tree = await extractSafely(bytes, staging, limits)
    entry = await entryOf(staging)
    await writeShim(staging, tree, shim)
    await writeSeal(staging, expected)
    await publish(staging, dir, expected)
  } catch (error) {
    await rm(staging, { recursive: true, force: true })
    throw error
  }
  return { sha256: expected, dir, entry: join(dir, ...entry), cached: false }
}

/** The bundle's bytes, within the size limit and holding the tar their sha256 name names. */
async function readBundle(codeUri: string, io: ScratchIo, expected: string, limits: ArchiveLimits): Promise<Uint8Array> {
  const size = await io.size(codeUri)
  if (size === undefined) throw new ReductioError("FILE_NOT_FOUND", `no code bundle at ${codeUri}`, { details: { uri: codeUri } })
  if (size > limits.maxBytes) {
    throw new ReductioError(
      "ARCHIVE_TOO_LARGE",
      `code bundle ${codeUri} is ${size} bytes, over the limit of ${limits.maxBytes}: raise the agent's limit (agent/README.md) or make the bundle smaller`,
      { details: { limit: "maxBytes", value: limits.maxBytes } },
    )
  }
  const bytes = await io.read(codeUri)
  if (bytes === undefined) throw new ReductioError("FILE_NOT_FOUND", `no code bundle at ${codeUri}`, { details: { uri: codeUri } })
  const actual = await tarSha256(bytes, limits.maxBytes)
  if (actual !== expected) {
    const what = actual === undefined ? "is not a gzip stream" : `holds a tar with sha256 ${actual}`
    throw new ReductioError("BUNDLE_TAMPERED", `code bundle ${codeUri} ${what}, not the ${expected} it is named by`, {
      details: { expected, actual: actual ?? null },
    })
  }
  return bytes
}

/**
 * The sha256 of the tar inside a tar.gz, which names a bundle (the gzip bytes of one tar differ
 * between zlib builds: Node's, Bun's, Deno's); undefined when the bytes do not gunzip. Streamed:
 * only the hash is kept, and no more than `maxBytes` of tar is read (the extraction refuses more).
 */
async function tarSha256(tarGz: Uint8Array, maxBytes: number): Promise<string | undefined> {
  const hash = createHash("sha256")
  const gunzip = createGunzip({ chunkSize: 128 * 1024 })
  gunzip.end(tarGz)
  let bytes = 0
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      bytes += chunk.length
      if (bytes > maxBytes) {
        throw new ReductioError("ARCHIVE_TOO_LARGE", `the code bundle expands to more than ${maxBytes} bytes`, {
          details: { limit: "maxBytes", value: maxBytes },
        })
      }
      hash.update(chunk)
    }
  } catch (error) {
    gunzip.destroy()
    if (error instanceof ReductioError) throw error
    return undefined
  }
  return hash.digest("hex")
}

/** Writes the kernel shim (and a package scope) next to the extracted bundle, never through or over its files. */
async function writeShim(staging: string, tree: ArchiveTree, shim: readonly ShimFile[]): Promise<void> {
  const modules = tree.get("node_modules")
  if ((modules !== undefined && modules !== "dir") || tree.has(`node_modules/${PACKAGE_NAME}`)) {
    throw unsafe(`node_modules/${PACKAGE_NAME}`, `the bundle brings its own \`${PACKAGE_NAME}\`, which the agent provides`)
  }
  if (tree.has(SEAL_FILE)) throw unsafe(SEAL_FILE, "the name is the agent's")
  const files = tree.has(SCOPE_PACKAGE.path) ? shim : [...shim, SCOPE_PACKAGE]
  for (const file of files) {
    await mkdir(join(staging, file.path, ".."), { recursive: true })
    // "wx": nothing is followed or replaced (the tree checks above make that impossible anyway).
    await writeFile(join(staging, file.path), file.text, { flag: "wx" })
  }
}

/** Renames the sealed staging directory into place; when another agent was first, checks and uses theirs. */
async function publish(staging: string, dir: string, expected: string): Promise<void> {
  try {
    await rename(staging, dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error
    await rm(staging, { recursive: true, force: true })
    if ((await checkSeal(dir, expected)) !== "sealed") {
      throw new ReductioError("BUNDLE_TAMPERED", `the extraction of bundle ${expected} at ${dir} does not match its seal`, {
        details: { dir },
      })
    }
  }
}

/** Moves a broken extraction out of the way (atomically, so no agent imports half of it), then removes it. */
async function discard(workdir: string, dir: string): Promise<void> {
  const trash = join(workdir, `.stale-${randomBytes(6).toString("hex")}`)
  try {
    await rename(dir, trash)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return
    throw error
  }
  await rm(trash, { recursive: true, force: true })
}

/** The parts of the bundle's entry module's path, from its manifest (UNSAFE_ARCHIVE when it names something outside). */
async function entryOf(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, MANIFEST), "utf8").catch(() => undefined)
  if (text === undefined) return [DEFAULT_ENTRY]
  let manifest: { entry?: unknown }
  try {
    manifest = JSON.parse(text) as { entry?: unknown }
  } catch (error) {
    throw new ReductioError("UNSAFE_ARCHIVE", `the bundle's ${MANIFEST} is not valid JSON: ${(error as Error).message}`, { cause: error })
  }
  const entry = typeof manifest?.entry === "string" ? manifest.entry : DEFAULT_ENTRY
  return entryParts(entry)
}
