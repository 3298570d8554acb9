/**
 * @module bundle
 * The code bundler: esbuild bundle of a workflow → reproducible tar.gz → named by its tar's sha256 →
 * uploaded to `<scratch>/code/<sha256>.tar.gz` only when absent. Same source, same hash, no upload.
 *
 * The archive holds:
 * - `workflow.mjs`: the ESM bundle (imports `reductio-workflow`, which the agent provides)
 * - `workflow.mjs.map`: its source map, so remote stacks point at the TypeScript sources
 * - `reductio-bundle.json`: the manifest (format, entry module, protocol version, source entry)
 */
import { isAbsolute, resolve } from "node:path"
import { sha256 } from "../runtime/hashing.js"
import { PROTOCOL_VERSION } from "../runtime/protocol.js"
import { BUNDLE_ENTRY, type BuildCodeOptions, buildCode } from "./esbuild-code.js"
import { type ArchiveFile, packArchive } from "./tarball.js"
import { uploadBundle } from "./upload.js"

/** The manifest file of a bundle. */
export const BUNDLE_MANIFEST = "reductio-bundle.json"

/** What a bundle's manifest says. */
export interface BundleManifest {
  readonly format: 1
  /** The module the agent imports. */
  readonly entry: string
  readonly protocol: number
  /** The workflow entry the bundle was made from, relative to its project root. */
  readonly source: string
}

/** Options of {@link bundle}. */
export interface BundleOptions extends BuildCodeOptions {
  /** Uploads the bundle under this scratch root (local directory) when given. */
  readonly scratch?: string
}

/** A built (and possibly uploaded) code bundle. */
export interface CodeBundle {
  /** sha256 of the uncompressed tar (not of the gzip bytes, which differ between zlib builds): the bundle's name. */
  readonly sha256: string
  /** The tar.gz bytes. */
  readonly bytes: Uint8Array
  /** The files inside the archive, sorted. */
  readonly files: readonly { readonly path: string; readonly size: number }[]
  /** The source modules bundled, relative to the project root. */
  readonly inputs: readonly string[]
  readonly manifest: BundleManifest
  /** Where the bundle was uploaded, when `scratch` was given. */
  readonly uri?: string
  /** False when the scratch already held it. */
  readonly uploaded?: boolean
}

/**
 * Bundles a workflow file into a content-addressed tar.gz.
 *
 * @example
 * const { sha256, uri } = await bundle("examples/hello.ts", { scratch: ".reductio/scratch" })
 */
export async function bundle(entry: string, options: BundleOptions = {}): Promise<CodeBundle> {
  const entryPath = isAbsolute(entry) ? entry : resolve(entry)
  const built = await buildCode(entryPath, options)
  const manifest: BundleManifest = { format: 1, entry: BUNDLE_ENTRY, protocol: PROTOCOL_VERSION, source: built.entry }
  const files: ArchiveFile[] = [
    { path: BUNDLE_ENTRY, bytes: built.code },
    { path: `${BUNDLE_ENTRY}.map`, bytes: built.map },
    { path: BUNDLE_MANIFEST, bytes: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`) },
  ]
  const { tar, tarGz: bytes } = await packArchive(files)
  const hash = sha256(tar)
  const listing = files.map((file) => ({ path: file.path, size: file.bytes.length })).sort((a, b) => (a.path < b.path ? -1 : 1))
  const result: CodeBundle = { sha256: hash, bytes, files: listing, inputs: built.inputs, manifest }
  if (options.scratch === undefined) return result
  const upload = await uploadBundle(options.scratch, hash, bytes)
  return { ...result, uri: upload.uri, uploaded: upload.uploaded }
}
