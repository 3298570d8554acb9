// The executors examples/glue/workflow.ts uses. Replace the bucket, the role and the Node tarball
// path with yours (docker/glue/README.md explains each).
import { defineConfig } from "reductio-workflow"

export default defineConfig({
  executors: {
    glue: {
      type: "aws_glue",
      scratch: "s3://my-bucket/reductio",
      role: "arn:aws:iam::123456789012:role/ReductioGlue",
      nodeRuntime: "vendor/node-v20.18.0-linux-x64.tar.xz",
      workerType: "G.1X",
      workers: 2,
      glueVersion: "5.0",
      timeout: 60,
      maxConcurrentRuns: 10,
      region: "eu-west-1",
    },
  },
})
