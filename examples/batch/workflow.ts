/**
 * Monte Carlo estimate of π on AWS Batch: `estimate` fans out one `sample` call per chunk, and the
 * executor turns the fan-out into a single array job (one S3 input, one SubmitJob, children pick
 * their call by AWS_BATCH_JOB_ARRAY_INDEX). `combine` runs locally on the host. Rerunning replays
 * every chunk from the cache; raising `chunks` submits only the new chunks.
 *
 *   npx reductio run examples/batch/workflow.ts batchpi.estimate --chunks 500 --samples 1000000
 *
 * Set up the queue, role, bucket and image first (`npx reductio aws setup --stack reductio
 * --write-config`, README "AWS setup"), or edit examples/batch/reductio.config.ts to name yours.
 */
import { run, task } from "reductio-workflow"

/** Counts the points of one seeded chunk that fall inside the unit circle (on Batch). */
export const sample = task(
  "batchpi.sample",
  (seed: number, samples: number) => {
    let state = (seed * 2654435761) >>> 0
    const next = () => {
      state = (state * 1664525 + 1013904223) >>> 0
      return state / 2 ** 32
    }
    let inside = 0
    for (let i = 0; i < samples; i++) {
      const x = next()
      const y = next()
      if (x * x + y * y <= 1) inside++
    }
    return { inside, samples }
  },
  { executor: "batch", vcpus: 1, memory: 1024, retries: 1 },
)

/** Adds up the chunks (in-process on the host). */
export const combine = task("batchpi.combine", (chunks: { inside: number; samples: number }[]) => {
  const inside = chunks.reduce((sum, chunk) => sum + chunk.inside, 0)
  const samples = chunks.reduce((sum, chunk) => sum + chunk.samples, 0)
  return { pi: (4 * inside) / samples, samples }
})

/** π from `chunks` Batch calls of `samples` points each. */
export const estimate = task("batchpi.estimate", (chunks: number, samples: number) =>
  combine(Array.from({ length: chunks }, (_, seed) => sample(seed, samples))),
)

await run(estimate, 100, 1_000_000)
