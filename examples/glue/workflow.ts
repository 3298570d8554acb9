/**
 * Local, process and Glue tasks in one workflow: clean a sharded S3 dataset of events with Spark on
 * AWS Glue (one Node process per shard), summarize each cleaned shard in a local subprocess, and
 * total the summaries in-process.
 *
 *   npx reductio run examples/glue/workflow.ts main --input s3://my-bucket/events --output s3://my-bucket/events-clean
 *
 * Needs AWS: the `glue` executor of reductio.config.ts (next to this file) names the scratch
 * bucket, the IAM role and the Node runtime tarball; see docker/glue/README.md.
 */
import { type Row, ShardedDataset, partitionTask, run, task } from "reductio-workflow"

/** Keeps well-formed events and normalizes them (runs on Glue: one Node process per shard). */
export const clean = partitionTask(
  "glue_example.clean",
  async function* (rows: AsyncIterable<Row>) {
    for await (const row of rows) {
      const user = String(row.user ?? "").trim()
      const amount = Number(row.amount)
      if (user === "" || !Number.isFinite(amount)) continue
      yield { user: user.toLowerCase(), amount }
    }
  },
  { executor: "glue" },
)

/** Totals one cleaned shard (a local agent subprocess: isolated from the host process). */
export const summarize = task(
  "glue_example.summarize",
  async (dataset: ShardedDataset, shard: number) => {
    const totals: Record<string, number> = {}
    for await (const row of dataset.records(shard)) totals[row.user as string] = (totals[row.user as string] ?? 0) + (row.amount as number)
    return totals
  },
  { executor: "process" },
)

/** Merges the per-shard totals (in-process). */
export const merge = task("glue_example.merge", (parts: Record<string, number>[]) => {
  const totals: Record<string, number> = {}
  for (const part of parts) for (const [user, amount] of Object.entries(part)) totals[user] = (totals[user] ?? 0) + amount
  return totals
})

/** Fans out one summary per cleaned shard, once the Glue task's output is known. */
export const summarizeAll = task("glue_example.summarizeAll", async (cleaned: ShardedDataset) => {
  const shards = await cleaned.shards()
  return merge(shards.map((_, index) => summarize(cleaned, index)))
})

export const main = task("glue_example.main", (input: string, output: string) =>
  summarizeAll(clean(new ShardedDataset(input, { format: "csv" }), output)),
)

await run(main, "s3://my-bucket/events", "s3://my-bucket/events-clean")
