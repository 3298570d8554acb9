// The executors examples/batch/workflow.ts uses. Replace the image, queue, bucket and role with
// yours: `npx reductio aws setup --stack reductio --write-config` writes them (README, "AWS setup").
import { defineConfig } from "reductio-workflow"

export default defineConfig({
  executors: {
    batch: {
      type: "aws_batch",
      // Pushed with `reductio image push`; a tag is resolved to its digest.
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/reductio-agent:0.1.0",
      queue: "reductio-spot",
      scratch: "s3://my-bucket/reductio",
      role: "arn:aws:iam::123456789012:role/ReductioBatchJob",
      // Defaults for tasks that set none; a task's own vcpus/memory/gpus/timeout win.
      vcpus: 1,
      memory: 2048,
      // Batch-level retries when a spot host is reclaimed; task retries are the task's `retries`.
      retries: 2,
      region: "eu-west-1",
      tags: { project: "reductio-example" },
    },
  },
})
