import assert from "node:assert/strict"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { validateConfig } from "../../../runtime/config/config.js"
import { isReductioError } from "../../../runtime/errors.js"
import type { StackSummary } from "../../../runtime/setup/cloudformation-client.js"
import { configSnippet, stackSettings, writeConfigFile } from "../../../runtime/setup/stack-settings.js"
import { checkStackName, parseParameters, templateBody, templateParameters } from "../../../runtime/setup/stack-template.js"

const known = Object.keys(templateParameters(templateBody()))
const invalid = (fn: () => unknown) => assert.throws(fn, (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"))

const outputs = {
  Region: "eu-west-1",
  SpotJobQueue: "arn:aws:batch:eu-west-1:123456789012:job-queue/rdx-spot",
  FargateJobQueue: "arn:aws:batch:eu-west-1:123456789012:job-queue/rdx-fargate",
  SpotComputeEnvironment: "arn:aws:batch:eu-west-1:123456789012:compute-environment/spot",
  FargateComputeEnvironment: "arn:aws:batch:eu-west-1:123456789012:compute-environment/fargate",
  JobRoleArn: "arn:aws:iam::123456789012:role/rdx-JobRole-1",
  FargateExecutionRoleArn: "arn:aws:iam::123456789012:role/rdx-FargateExecutionRole-1",
  ScratchBucket: "rdx-scratch",
  Scratch: "s3://rdx-scratch/reductio",
  RepositoryName: "rdx-agent",
  RepositoryUri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/rdx-agent",
  HostPolicyArn: "arn:aws:iam::123456789012:policy/rdx-HostPolicy-1",
}
const deployed: StackSummary = { stackId: "id", name: "rdx", status: "CREATE_COMPLETE", outputs, parameters: {} }

describe("stack parameters and names", () => {
  it("parses KEY=VALUE parameters the template declares", () => {
    assert.deepEqual(parseParameters(["SpotMaxVcpus=64", "DataBuckets=a,b", "ScratchPrefix=x=y"], known), {
      SpotMaxVcpus: "64",
      DataBuckets: "a,b",
      ScratchPrefix: "x=y",
    })
    assert.deepEqual(parseParameters(["VpcId="], known), { VpcId: "" })
  })

  it("refuses malformed, unknown, repeated, oversized and control-character parameters", () => {
    invalid(() => parseParameters(["SpotMaxVcpus"], known))
    invalid(() => parseParameters(["=64"], known))
    invalid(() => parseParameters(["Colour=red"], known))
    invalid(() => parseParameters(["SpotMaxVcpus=1", "SpotMaxVcpus=2"], known))
    invalid(() => parseParameters([`DataBuckets=${"b".repeat(5000)}`], known))
    invalid(() => parseParameters(["ScratchPrefix=a\nb"], known))
  })

  it("accepts stack names CloudFormation accepts and the queues can be named after", () => {
    assert.equal(checkStackName("reductio-prod2"), "reductio-prod2")
    for (const name of ["", "2fast", "has_underscore", "a/b", "x".repeat(121), "--json"]) invalid(() => checkStackName(name))
  })
})

describe("the settings of a stack", () => {
  it("are the aws_batch executor's, with the image at the version tag", () => {
    const settings = stackSettings(deployed, "0.1.0")
    assert.deepEqual(settings.executor, {
      type: "aws_batch",
      queue: outputs.SpotJobQueue,
      scratch: outputs.Scratch,
      role: outputs.JobRoleArn,
      image: `${outputs.RepositoryUri}:0.1.0`,
      region: "eu-west-1",
    })
    assert.deepEqual(settings.fargate, { queue: outputs.FargateJobQueue, executionRole: outputs.FargateExecutionRoleArn })
  })

  it("refuse a stack that was not made from reductio's template", () => {
    const { SpotJobQueue: _queue, ...rest } = outputs
    invalid(() => stackSettings({ ...deployed, outputs: rest }, "0.1.0"))
  })

  it("print as a config whose executors validate", async () => {
    const snippet = configSnippet(stackSettings(deployed, "0.1.0"))
    const body = /export default defineConfig\(([\s\S]*)\)\n$/.exec(snippet)?.[1] as string
    // The snippet is TypeScript; its object literal is plain enough to evaluate as JavaScript.
    const config = validateConfig(new Function(`return (${body})`)(), "snippet")
    assert.equal(config.executors?.batch?.type, "aws_batch")
    assert.deepEqual(Object.keys(config.executors ?? {}), ["batch"])
    assert.match(snippet, /queue: "arn:aws:batch:eu-west-1:123456789012:job-queue\/rdx-fargate"/)
  })

  it("carry a commented-out Fargate executor that validates once uncommented", () => {
    const snippet = configSnippet(stackSettings(deployed, "0.1.0"))
    const uncommented = snippet.replace(/^ {4}\/\/ ( *(?:fargate: \{|type:|queue:|executionRole:|scratch:|image:|\}))/gm, "    $1")
    const body = /export default defineConfig\(([\s\S]*)\)\n$/.exec(uncommented)?.[1] as string
    const config = validateConfig(new Function(`return (${body})`)(), "snippet")
    const fargate = config.executors?.fargate
    assert.equal(fargate?.type === "aws_batch" && fargate.platform, "FARGATE")
  })

  it("write reductio.config.ts, leave an identical one alone and replace a different one only with force", async () => {
    const dir = await mkdtemp(join(tmpdir(), "reductio-config-"))
    try {
      const path = join(dir, "reductio.config.ts")
      const snippet = configSnippet(stackSettings(deployed, "0.1.0"))
      assert.equal(writeConfigFile(path, snippet, false), "written")
      assert.equal(writeConfigFile(path, snippet, false), "unchanged")
      await writeFile(path, "export default {}\n")
      invalid(() => writeConfigFile(path, snippet, false))
      assert.equal(await readFile(path, "utf8"), "export default {}\n")
      assert.equal(writeConfigFile(path, snippet, true), "written")
      assert.equal(await readFile(path, "utf8"), snippet)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
