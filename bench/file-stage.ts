/**
 * Stages 1,000 small files to and from S3 (moto_server, started here) with bounded concurrency:
 * first with File.copyTo (16 at a time), then through `script()`, which stages 1,000 inputs in and
 * 1,000 outputs out around one shell command. Prints JSON figures.
 *
 *   node --import tsx bench/file-stage.ts [files] [concurrency]
 */
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { type CallExpression, expressionOf } from "../runtime/expression.js"
import { File } from "../runtime/file.js"
import { script } from "../runtime/script.js"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import { lookupTask } from "../runtime/task.js"
import { startMoto } from "../test/support/moto.js"

const count = Number(process.argv[2] ?? 1000)
const concurrency = Number(process.argv[3] ?? 16)
const moto = await startMoto()
if (moto.skip !== false) {
  console.log(JSON.stringify({ bench: "file-stage", skipped: moto.skip }))
  process.exit(0)
}
const dir = await mkdtemp(join(tmpdir(), "reductio-bench-stage-"))
try {
  const options = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true }
  configureS3(options)
  const client = new S3Client(options)
  await client.send(new CreateBucketCommand({ Bucket: "bench" }))
  client.destroy()

  const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(5, "0")}.txt`)
  await mkdir(join(dir, "up"))
  await Promise.all(names.map((name) => writeFile(join(dir, "up", name), randomBytes(512).toString("hex"))))

  const upStart = performance.now()
  await mapLimit(names, concurrency, (name) => new File(join(dir, "up", name)).copyTo(`s3://bench/in/${name}`))
  const upSeconds = (performance.now() - upStart) / 1000

  const downStart = performance.now()
  await mapLimit(names, concurrency, (name) => new File(`s3://bench/in/${name}`).copyTo(join(dir, "down", name)))
  const downSeconds = (performance.now() - downStart) / 1000

  const call = script('mkdir -p out && for f in in/*; do cp "$f" "out/${f#in/}"; done', {
    inputs: names.map((name) => new File(`s3://bench/in/${name}`).stage(`in/${name}`)),
    outputs: names.map((name) => new File(`s3://bench/out/${name}`).stage(`out/${name}`)),
  })
  const expression = expressionOf(call) as CallExpression
  const scriptStart = performance.now()
  await (lookupTask(expression.task).fn as (...args: readonly unknown[]) => Promise<unknown>)(...expression.args)
  const scriptSeconds = (performance.now() - scriptStart) / 1000

  console.log(
    JSON.stringify(
      {
        bench: "file-stage",
        files: count,
        fileBytes: 1024,
        concurrency,
        uploadSeconds: round3(upSeconds),
        uploadFilesPerSecond: Math.round(count / upSeconds),
        downloadSeconds: round3(downSeconds),
        downloadFilesPerSecond: Math.round(count / downSeconds),
        scriptStageInAndOutSeconds: round3(scriptSeconds),
        loadAverage: round3(loadavg()[0] as number),
      },
      null,
      2,
    ),
  )
} finally {
  await rm(dir, { recursive: true, force: true })
  await moto.stop()
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
