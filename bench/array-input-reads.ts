/**
 * What an array child reads of its array input: writes a 10,000-entry array input to moto's S3 in
 * the indexed layout (protocol 2) and in the whole-list layout (protocol 1), runs the built agent
 * as children at a few indices through a counting proxy, and prints, per layout, the requests on
 * the input object and the bytes each child reads of it. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/array-input-reads.ts [entries]
 */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { bundle } from "../bundler/bundle.js"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import { AGENT_EXIT, arraySlotRange, decodeArraySlot, encodeArrayInput, encodeEntries, scratch } from "../runtime/protocol.js"
import { builtAgent, entryFor, fixtureWorkflow, hashOf, runBuiltAgent } from "../test/agent/agent-harness.js"
import { createBucket, s3Options, startMoto } from "../test/support/moto.js"
import { startS3Counter } from "../test/support/s3-counter.js"

const size = Number(process.argv[2] ?? 10_000)
const moto = await startMoto()
if (moto.skip !== false) throw new Error(moto.skip)
const counter = await startS3Counter(moto.endpoint)
try {
  configureS3({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  const bucket = await createBucket(moto, "bench")
  const root = `s3://${bucket}/scratch`
  const code = (await bundle(fixtureWorkflow, { scratch: root })).uri as string
  await builtAgent()
  const s3 = new S3Client(s3Options(moto))
  const entries = Array.from({ length: size }, (_, i) => entryFor(`bench-${i}`, "fixture.add", [i, 1]))
  const layouts = { indexed: encodeArrayInput(entries), wholeList: encodeEntries(entries) }
  const indices = [0, Math.floor(size / 2), size - 1]
  const figures: Record<string, unknown> = {}
  for (const [name, bytes] of Object.entries(layouts)) {
    const arrayId = hashOf(`bench-${name}`).slice(0, 32)
    const input = scratch.arrayInput(root, arrayId)
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: input.slice(`s3://${bucket}/`.length), Body: bytes }))
    const perChild: { index: number; inputRequests: number; inputBytes: number }[] = []
    for (const index of indices) {
      counter.reset()
      const run = await runBuiltAgent(["--code", code, "--input", input, "--scratch", root, "--index", String(index)], {
        ...moto.env,
        AWS_ENDPOINT_URL: counter.endpoint,
      })
      if (run.code !== AGENT_EXIT.done) throw new Error(`child ${index} exited ${run.code}: ${run.stderr}`)
      const inputRequests = counter.requests.filter((request) => input.endsWith(request.key)).length
      let inputBytes = bytes.length
      if (name === "indexed") {
        const range = arraySlotRange(index)
        const slot = decodeArraySlot(bytes.subarray(range.start, range.end + 1), index)
        inputBytes = range.end - range.start + 1 + (slot?.length ?? 0)
      }
      perChild.push({ index, inputRequests, inputBytes })
    }
    figures[name] = { inputObjectBytes: bytes.length, perChild }
  }
  s3.destroy()
  console.log(JSON.stringify({ benchmark: "array-input-reads", entries: size, ...figures }, null, 2))
} finally {
  await counter.stop()
  await moto.stop()
}
