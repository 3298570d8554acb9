/**
 * A toy sequencing pipeline built from shell scripts and Files: simulate reads per sample, "align"
 * them (count 4-base prefixes with awk/sort/uniq), merge the counts and summarize. Outputs go to a
 * local directory or an S3 prefix; rerunning replays every step from the cache, and rewriting or
 * deleting one output reruns only the step that produced it (and what depends on it).
 *
 *   npx tsx examples/sequencing/workflow.ts                       # ./sequencing-out
 *   npx reductio run examples/sequencing/workflow.ts main --samples 5 --out s3://bucket/seq
 *
 * Pass an absolute path or an s3:// prefix as `out` when tasks run on remote executors.
 */
import { resolve } from "node:path"
import { File, run, script, stdout, task } from "reductio-workflow"

/** Writes a deterministic simulated FASTQ file for one sample. */
export const simulate = task("sequencing.simulate", async (out: string, sample: string, reads: number) => {
  const bases = "ACGT"
  let state = [...sample].reduce((seed, ch) => (seed * 31 + ch.charCodeAt(0)) >>> 0, 7)
  const lines: string[] = []
  for (let i = 0; i < reads; i++) {
    let sequence = ""
    for (let j = 0; j < 24; j++) {
      state = (state * 1664525 + 1013904223) >>> 0
      sequence += bases[state >>> 30]
    }
    lines.push(`@${sample}.${i}`, sequence, "+", "I".repeat(sequence.length))
  }
  const fastq = new File(`${out}/${sample}.fastq`)
  await fastq.write(`${lines.join("\n")}\n`)
  return fastq
})

/** "Aligns" one sample: counts reads per 4-base prefix; stdout carries the number of reads. */
export const align = task("sequencing.align", (out: string, sample: string, fastq: File) =>
  script(
    `awk 'NR % 4 == 2 { print substr($0, 1, 4) }' reads.fastq | sort | uniq -c | awk '{ print $2, $1 }' > counts.txt
     awk 'END { print NR / 4 }' reads.fastq`,
    {
      inputs: [fastq.stage("reads.fastq")],
      outputs: { counts: new File(`${out}/${sample}.counts.txt`).stage("counts.txt"), reads: stdout },
    },
  ),
)

/** Sums the per-sample counts into one table, most frequent prefix first. */
export const merge = task("sequencing.merge", (out: string, counts: File[]) =>
  script(`cat counts-*.txt | awk '{ n[$1] += $2 } END { for (k in n) print k, n[k] }' | sort -k2,2nr -k1,1 > merged.txt`, {
    inputs: counts.map((file, i) => file.stage(`counts-${i}.txt`)),
    outputs: new File(`${out}/merged.counts.txt`).stage("merged.txt"),
  }),
)

/** Reads the merged table back into a small report. */
export const summarize = task("sequencing.summarize", async (merged: File, reads: string[]) => {
  const rows = (await merged.read()).trim().split("\n")
  const [prefix, count] = (rows[0] ?? "").split(" ")
  return {
    samples: reads.length,
    reads: reads.reduce((sum, n) => sum + Number(n.trim()), 0),
    distinctPrefixes: rows.length,
    top: { prefix: prefix ?? "", count: Number(count ?? 0) },
    table: merged,
  }
})

/** The pipeline: every sample in parallel, then one merge and a summary. */
export const main = task("sequencing.main", (samples: number = 3, reads: number = 200, out: string = "sequencing-out") => {
  const root = out.startsWith("s3://") ? out.replace(/\/+$/, "") : resolve(out)
  const aligned = Array.from({ length: samples }, (_, i) => {
    const sample = `sample${i + 1}`
    return align(root, sample, simulate(root, sample, reads))
  })
  return summarize(
    merge(
      root,
      aligned.map((result) => result.counts),
    ),
    aligned.map((result) => result.reads),
  )
})

await run(main, 3, 200, "sequencing-out")
