/**
 * @module dataset
 * `ShardedDataset`: a prefix (S3 or a local directory) of csv, json-lines or parquet shards, as one
 * value tasks take and return. Its hash covers every shard's name and ETag (S3) or size and mtime
 * (local), so a dataset whose shards changed invalidates the calls that read it. Kernel-safe: the
 * S3 adapter loads through the storage registry only when an `s3://` dataset is touched.
 *
 * `partitionTask` maps a Node function over the partitions of a dataset, one partition per shard.
 * Anywhere it runs partition after partition in the task's process; on the `aws_glue` executor the
 * shim runs one Node process per Spark partition, records streamed as JSON lines (see
 * docker/glue/README.md).
 *
 * Reading records: csv (header row; every value a string) and json lines, optionally gzipped.
 * Parquet shards are listed and hashed, but not read: no parquet reader ships with reductio.
 *
 * @example
 * const events = new ShardedDataset("s3://lab/events/2024/")
 * const clean = partitionTask("clean", async function* (rows) {
 *   for await (const row of rows) if (row.user !== "") yield { user: row.user, at: Number(row.at) }
 * })
 * const cleaned = clean(events, "s3://lab/clean/2024")   // Lazy<ShardedDataset>
 */
import { resolve } from "node:path"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"
import { createGunzip } from "node:zlib"
import { encode as cborEncode } from "cborg"
import { registerCodec, TAGS } from "./codec.js"
import { ReductioError } from "./errors.js"
import { opaque } from "./expression.js"
import { sha256 } from "./hashing.js"
import { isS3Uri, storageFor } from "./storage/storage-registry.js"
import { type Task, type TaskOptions, task } from "./task.js"

/** The shard formats a dataset may hold. */
export const SHARD_FORMATS = ["csv", "jsonl", "parquet"] as const
export type ShardFormat = (typeof SHARD_FORMATS)[number]

/** One record of a dataset: a csv row (strings) or a json-lines object. */
export type Row = Record<string, unknown>

/** One shard file of a dataset, as listed. */
export interface Shard {
  /** Full URI (`s3://…` or an absolute local path). */
  readonly uri: string
  readonly size: number
  /** S3 ETag (quotes removed). */
  readonly etag?: string | undefined
  /** Local files: modification time in ms. */
  readonly mtimeMs?: number | undefined
}

/** Options of a {@link ShardedDataset}. */
export interface ShardedDatasetOptions {
  /** The shards' format; default: inferred from the shards' file extensions. */
  readonly format?: ShardFormat
}

const EXTENSIONS: Readonly<Record<ShardFormat, readonly string[]>> = {
  csv: [".csv", ".csv.gz", ".tsv"],
  jsonl: [".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz"],
  parquet: [".parquet"],
}

// Set by a static block: the codec restores a decoded dataset's listing without a public setter.
let restore: (dataset: ShardedDataset, format: ShardFormat, hash: string, shards: readonly Shard[]) => void
let listed: (dataset: ShardedDataset) => readonly Shard[] | undefined

/**
 * A prefix of shard files. Relative local paths resolve against the working directory.
 *
 * @example
 * const reads = new ShardedDataset("s3://lab/run7/reads/", { format: "jsonl" })
 * for (const shard of await reads.shards()) console.log(shard.uri, shard.size)
 * for await (const row of reads.records()) console.log(row)
 */
export class ShardedDataset {
  declare readonly [opaque]?: true
  /** `s3://bucket/prefix` or an absolute local directory, without a trailing slash. */
  readonly path: string
  #format: ShardFormat | undefined
  #hash: string | undefined
  #shards: readonly Shard[] | undefined

  static {
    restore = (dataset, format, hash, shards) => {
      dataset.#format = format
      dataset.#hash = hash
      dataset.#shards = shards
    }
    listed = (dataset) => dataset.#shards
  }

  constructor(path: string, options: ShardedDatasetOptions = {}) {
    if (typeof path !== "string" || path === "")
      throw new ReductioError("INVALID_ARGUMENT", `a ShardedDataset needs a prefix, got ${JSON.stringify(path)}`)
    if (options.format !== undefined && !SHARD_FORMATS.includes(options.format))
      throw new ReductioError("INVALID_ARGUMENT", `unknown shard format ${JSON.stringify(options.format)}; use ${SHARD_FORMATS.join(", ")}`)
    const absolute = isS3Uri(path) ? path : path.startsWith("file:") ? new URL(path).pathname : resolve(path)
    this.path = absolute.length > 1 ? absolute.replace(/\/+$/, "") : absolute
    this.#format = options.format
    Object.defineProperty(this, DATASET, { value: true })
  }

  /** The shards' format (known once given, listed or decoded). */
  get format(): ShardFormat | undefined {
    return this.#format
  }

  /** The hash recorded when the dataset was last listed (or decoded); undefined before that. */
  get hash(): string | undefined {
    return this.#hash
  }

  /** True for `s3://` datasets. */
  get isRemote(): boolean {
    return isS3Uri(this.path)
  }

  /** The shards as last listed (or decoded); lists them on first use. */
  async shards(): Promise<readonly Shard[]> {
    if (this.#shards === undefined) await this.updateHash()
    return this.#shards as readonly Shard[]
  }

  /** Lists the shards now and recomputes the hash (what the codec's `prepare` does). */
  async updateHash(): Promise<string> {
    const { format, shards } = await listShards(this.path, this.#format)
    this.#format = format
    this.#shards = shards
    this.#hash = datasetHash(this.path, format, shards)
    return this.#hash
  }

  /**
   * The records of one shard (by index or Shard), or of every shard in order.
   * INVALID_ARGUMENT for parquet shards: no parquet reader ships with reductio.
   */
  async *records(shard?: number | Shard): AsyncIterable<Row> {
    const all = await this.shards()
    const chosen = shard === undefined ? all : [typeof shard === "number" ? all[shard] : shard]
    for (const item of chosen) {
      if (item === undefined)
        throw new ReductioError("INVALID_ARGUMENT", `${this.path} has no shard ${String(shard)} (it has ${all.length})`)
      yield* readShard(item, this.#format ?? formatOf(item.uri) ?? "jsonl")
    }
  }

  toString(): string {
    return this.path
  }
}

const DATASET = Symbol.for("reductio.dataset")

/** True for a ShardedDataset (from any copy of the kernel). */
export function isShardedDataset(value: unknown): value is ShardedDataset {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DATASET] === true
}

/** The format a shard's file name implies, or undefined for files that are not shards. */
export function formatOf(uri: string): ShardFormat | undefined {
  const name = uri.slice(uri.lastIndexOf("/") + 1).toLowerCase()
  // Spark and Hadoop leave markers (_SUCCESS, _committed_…) and checksums (.part-0.crc) beside shards.
  if (name.startsWith("_") || name.startsWith(".")) return undefined
  for (const format of SHARD_FORMATS) if (EXTENSIONS[format].some((ext) => name.endsWith(ext))) return format
  return undefined
}

async function listShards(path: string, given: ShardFormat | undefined): Promise<{ format: ShardFormat; shards: Shard[] }> {
  const storage = await storageFor(path)
  const shards: Shard[] = []
  const formats = new Set<ShardFormat>()
  for await (const entry of storage.list(`${path}/`)) {
    const format = formatOf(entry.uri)
    if (format === undefined || (given !== undefined && format !== given)) continue
    formats.add(format)
    shards.push({
      uri: entry.uri,
      size: entry.size,
      ...(entry.etag === undefined ? {} : { etag: entry.etag }),
      ...(isS3Uri(entry.uri) || entry.mtimeMs === undefined ? {} : { mtimeMs: entry.mtimeMs }),
    })
  }
  if (given !== undefined) return { format: given, shards }
  if (formats.size > 1) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `${path} mixes shard formats (${[...formats].join(", ")}): pass { format } to ShardedDataset to pick one`,
    )
  }
  return { format: [...formats][0] ?? "jsonl", shards }
}

function datasetHash(path: string, format: ShardFormat, shards: readonly Shard[]): string {
  const parts = shards.map((shard) => [shard.uri.slice(path.length + 1), shard.size, shard.etag ?? null, shard.mtimeMs ?? null])
  return sha256(cborEncode(["dataset", path, format, parts]))
}

/** Reads one shard's records: csv rows as objects of strings, json lines as parsed. */
export async function* readShard(shard: Shard, format: ShardFormat): AsyncIterable<Row> {
  if (format === "parquet") {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `cannot read ${shard.uri}: reductio lists and hashes parquet shards but has no parquet reader; read it with a parquet library, or store csv or json lines`,
    )
  }
  const storage = await storageFor(shard.uri)
  let stream: Readable = await storage.createReadStream(shard.uri)
  if (shard.uri.endsWith(".gz")) stream = stream.pipe(createGunzip())
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
  if (format === "jsonl") {
    let number = 0
    for await (const line of lines) {
      number++
      if (line.trim() === "") continue
      yield parseJsonLine(line, shard.uri, number)
    }
    return
  }
  yield* csvRows(lines, shard.uri.endsWith(".tsv") ? "\t" : ",")
}

function parseJsonLine(line: string, uri: string, number: number): Row {
  try {
    return JSON.parse(line) as Row
  } catch (error) {
    throw new ReductioError("INVALID_ARGUMENT", `${uri}:${number} is not a JSON line: ${(error as Error).message}`, { cause: error })
  }
}

/** RFC 4180 rows (quoted fields may hold separators, quotes and newlines) keyed by the header. */
async function* csvRows(lines: AsyncIterable<string>, separator: string): AsyncIterable<Row> {
  let header: string[] | undefined
  let fields: string[] = []
  let field = ""
  let quoted = false
  for await (const line of lines) {
    for (let i = 0; i < line.length; i++) {
      const ch = line[i] as string
      if (quoted) {
        if (ch !== '"') field += ch
        else if (line[i + 1] === '"') {
          field += '"'
          i++
        } else quoted = false
      } else if (ch === '"') quoted = true
      else if (ch === separator) {
        fields.push(field)
        field = ""
      } else field += ch
    }
    if (quoted) {
      field += "\n"
      continue
    }
    fields.push(field)
    field = ""
    const row = fields
    fields = []
    if (header === undefined) header = row
    else if (!(row.length === 1 && row[0] === "")) yield Object.fromEntries(header.map((name, i) => [name, row[i] ?? ""]))
  }
}

// ---------------------------------------------------------------------------------------------
// Partition tasks

/** Where a mapper is in its dataset. */
export interface PartitionInfo {
  /** The partition (shard) index. */
  readonly index: number
  readonly shard: Shard
}

/** Maps the records of one partition to output records. */
export type PartitionMapper = (rows: AsyncIterable<Row>, partition: PartitionInfo) => AsyncIterable<Row>

const MAPPERS_KEY = Symbol.for("reductio.partitionMappers")
const mapperGlobals = globalThis as unknown as Record<symbol, Map<string, PartitionMapper> | undefined>
const mappers: Map<string, PartitionMapper> = mapperGlobals[MAPPERS_KEY] ?? new Map()
mapperGlobals[MAPPERS_KEY] = mappers

/** The mapper of a partition task, by full task name; undefined for ordinary tasks. */
export function partitionMapperOf(taskName: string): PartitionMapper | undefined {
  return mappers.get(taskName)
}

/** The name of output shard `index`: `part-00000.jsonl`. */
export function partName(index: number): string {
  return `part-${String(index).padStart(5, "0")}.jsonl`
}

/**
 * Declares a task that maps `mapper` over every partition (shard) of a dataset and writes the
 * output records as json lines to `output/part-NNNNN.jsonl`, one output shard per input shard.
 * Calling it with `(dataset, outputPrefix)` returns a Lazy of the output ShardedDataset.
 *
 * On `aws_glue` each partition runs in its own Node process on a Spark executor; elsewhere the
 * partitions run one after another in the task's process. The output prefix belongs to the task:
 * stale `part-*.jsonl` files beyond the new shard count are removed.
 *
 * @example
 * const upper = partitionTask("upper", async function* (rows) {
 *   for await (const row of rows) yield { ...row, name: String(row.name).toUpperCase() }
 * }, { executor: "glue" })
 * const out = upper(new ShardedDataset("s3://lab/people/"), "s3://lab/people-upper")
 */
export function partitionTask(
  name: string,
  mapper: PartitionMapper,
  options: TaskOptions = {},
): Task<[input: ShardedDataset, output: string], ShardedDataset> {
  if (typeof mapper !== "function") throw new ReductioError("INVALID_ARGUMENT", `partitionTask ${name}: the mapper must be a function`)
  // The wrapper below is the same for every partition task: the mapper's source makes the hash.
  // (As a string: task options travel in job entries, where a function cannot be encoded.)
  const hashIncludes = [`mapper:${mapper.toString()}`, ...(options.hashIncludes ?? [])]
  const declared = task(
    name,
    async (input: ShardedDataset, output: string) => {
      const mapped = partitionMapperOf(declared.taskName) ?? mapper
      await mapPartitions(input, output, mapped)
      return new ShardedDataset(output, { format: "jsonl" })
    },
    { ...options, hashIncludes },
  )
  mappers.set(declared.taskName, mapper)
  return declared
}

/** Runs `mapper` over each shard of `input` in turn, writing `output/part-NNNNN.jsonl`. */
export async function mapPartitions(input: ShardedDataset, output: string, mapper: PartitionMapper): Promise<void> {
  if (!isShardedDataset(input)) throw new ReductioError("INVALID_ARGUMENT", "a partition task's first argument must be a ShardedDataset")
  const shards = await input.shards()
  const prefix = output.replace(/\/+$/, "")
  await removeStaleParts(prefix, shards.length)
  const storage = await storageFor(prefix)
  for (const [index, shard] of shards.entries()) {
    const rows = mapper(readShard(shard, input.format ?? "jsonl"), { index, shard })
    await storage.writeStream(`${prefix}/${partName(index)}`, jsonLines(rows))
  }
}

/** Deletes `part-NNNNN.jsonl` files at or beyond `count` under `prefix`. */
export async function removeStaleParts(prefix: string, count: number): Promise<void> {
  const storage = await storageFor(prefix)
  const stale: string[] = []
  for await (const entry of storage.list(`${prefix}/`)) {
    const match = /\/part-(\d{5,})\.jsonl$/.exec(entry.uri)
    if (match !== null && Number(match[1]) >= count) stale.push(entry.uri)
  }
  await Promise.all(stale.map((uri) => storage.delete(uri)))
}

async function* jsonLines(rows: AsyncIterable<Row>): AsyncIterable<Uint8Array> {
  let batch = ""
  for await (const row of rows) {
    batch += `${JSON.stringify(row)}\n`
    if (batch.length >= 64 * 1024) {
      yield Buffer.from(batch)
      batch = ""
    }
  }
  if (batch !== "") yield Buffer.from(batch)
}

// ---------------------------------------------------------------------------------------------
// Codec

interface DatasetData {
  readonly path: string
  readonly format: ShardFormat
  readonly hash: string
  readonly shards: readonly Shard[]
}

registerCodec<ShardedDataset>({
  tag: TAGS.dataset,
  name: "ShardedDataset",
  is: isShardedDataset,
  encode: (dataset) => {
    if (dataset.hash === undefined || dataset.format === undefined) {
      throw new ReductioError(
        "UNENCODABLE_VALUE",
        `ShardedDataset ${dataset.path} has not been listed yet: the scheduler prepares datasets before encoding them; elsewhere await dataset.updateHash() first`,
        { details: { uri: dataset.path } },
      )
    }
    const data: DatasetData = { path: dataset.path, format: dataset.format, hash: dataset.hash, shards: listed(dataset) ?? [] }
    return data
  },
  decode: (data) => {
    const { path, format, hash, shards } = (typeof data === "object" && data !== null ? data : {}) as Partial<DatasetData>
    const shardsValid = Array.isArray(shards) && shards.every((s) => typeof s?.uri === "string" && typeof s.size === "number")
    if (typeof path !== "string" || typeof hash !== "string" || !SHARD_FORMATS.includes(format as ShardFormat) || !shardsValid) {
      throw new Error("a stored ShardedDataset needs a text path and hash, a shard format and a list of shards")
    }
    const dataset = new ShardedDataset(path, { format: format as ShardFormat })
    restore(dataset, format as ShardFormat, hash, shards)
    return dataset
  },
  prepare: async (dataset) => {
    await dataset.updateHash()
  },
  validate: async (dataset) => {
    if (dataset.hash === undefined) return false
    try {
      const { format, shards } = await listShards(dataset.path, dataset.format)
      return datasetHash(dataset.path, format, shards) === dataset.hash
    } catch {
      return false
    }
  },
  lineage: (dataset) => (dataset.hash === undefined ? undefined : { path: dataset.path, hash: dataset.hash }),
})
