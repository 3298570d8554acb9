/**
 * Sync throughput on moto (started here): 1,000 small files local → S3, the same sync again (all
 * unchanged), and S3 → local; then one large file (1 GiB by default) local → S3 and back, with the
 * process's peak RSS (transfers stream: it stays far below the file's size). Prints JSON.
 *
 *   node --import tsx bench/sync-throughput.ts [files] [bigMiB]
 */
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import { syncDirectories } from "../runtime/storage/sync.js"
import { createBucket, s3Options, startMoto } from "../test/support/moto.js"
import { countBy, startS3Counter } from "../test/support/s3-counter.js"

const files = Number(process.argv[2] ?? 1000)
const bigMiB = Number(process.argv[3] ?? 1024)
const started = await startMoto()
if (started.skip !== false) {
  console.log(JSON.stringify({ bench: "sync-throughput", skipped: started.skip }))
  process.exit(0)
}
const moto = started
const counter = await startS3Counter(moto.endpoint)
const dir = await mkdtemp(join(tmpdir(), "reductio-bench-sync-"))
const MB = 1e6
try {
  configureS3({ ...s3Options(moto), endpoint: counter.endpoint })
  const bucket = await createBucket(moto, "bench-sync")
  const cacheDir = join(dir, "cache")
  const timed = async (label: string, from: string, to: string) => {
    counter.reset()
    const start = performance.now()
    const result = await syncDirectories(from, to, { cacheDir })
    const seconds = (performance.now() - start) / 1000
    return {
      label,
      seconds: Number(seconds.toFixed(3)),
      copied: result.copied,
      skipped: result.skipped,
      bytes: result.bytes,
      filesPerSecond: Math.round((result.copied + result.skipped) / seconds),
      megabytesPerSecond: Number((result.bytes / MB / seconds).toFixed(1)),
      requests: countBy(counter.requests.map((r) => r.operation)),
    }
  }

  const small = join(dir, "small")
  await mkdir(small)
  for (let i = 0; i < files; i++) await writeFile(join(small, `f${String(i).padStart(5, "0")}.txt`), randomBytes(512).toString("hex"))
  const smallRuns = [
    await timed("small files, local → S3", small, `s3://${bucket}/small`),
    await timed("small files, local → S3 again (unchanged)", small, `s3://${bucket}/small`),
    await timed("small files, S3 → local", `s3://${bucket}/small`, join(dir, "small-back")),
  ]

  const big = join(dir, "big")
  await mkdir(big)
  const handle = await open(join(big, "large.bin"), "w")
  const chunk = randomBytes(8 * 1024 * 1024)
  for (let written = 0; written < bigMiB * 1024 * 1024; written += chunk.length) await handle.write(chunk)
  await handle.close()
  const rssBefore = process.memoryUsage().rss
  const bigRuns = [
    await timed(`${bigMiB} MiB file, local → S3`, big, `s3://${bucket}/big`),
    await timed(`${bigMiB} MiB file, local → S3 again (unchanged)`, big, `s3://${bucket}/big`),
    await timed(`${bigMiB} MiB file, S3 → local`, `s3://${bucket}/big`, join(dir, "big-back")),
  ]
  console.log(
    JSON.stringify(
      {
        bench: "sync-throughput",
        smallFiles: files,
        smallFileBytes: 1024,
        runs: [...smallRuns, ...bigRuns],
        rssMbBeforeLargeFile: Math.round(rssBefore / MB),
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1000),
        loadAverage: Number((loadavg()[0] as number).toFixed(2)),
      },
      null,
      2,
    ),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
  await counter.stop()
  await moto.stop()
}
