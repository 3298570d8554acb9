// `reductio aws setup | check | teardown` end to end against moto's CloudFormation, Batch, EC2,
// IAM, S3 and ECR, with a workflow run on the Batch executor configured by what setup wrote.
//
// What moto cannot do, and how this file gets around it (the template's parameters and
// conditions do the work; nothing is special-cased in reductio):
// - compute environments need a service role in moto: CreateBatchServiceRole=true;
// - moto does not split a CommaDelimitedList default, so InstanceTypes is given;
// - moto names an unnamed ECR repository with capitals, which its ECR refuses: RepositoryName is given;
// - moto cannot delete a VPC gateway attachment, so a stack that built its own VPC cannot be torn
//   down: a first stack builds the VPC (the CreateVpc path) and stays; the stack under test uses
//   it as an existing VPC (the VpcId/SubnetIds path) and is torn down;
// - moto applies no CloudFormation update to Batch queues or compute environments (and drops them
//   from the stack's resources when an update touches them): the update here changes the scratch
//   lifecycle, which moto applies, and a queue priority is left to test/runtime/setup;
// - moto runs no jobs (the test Batch endpoint runs them, accepting only the queues moto created),
//   never fails or rolls back a stack and emits no resource events (the scripted tests in
//   test/runtime/setup cover those), and has no IAM policy simulator (iam-simulator.ts answers it).
import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import { after, before, describe, it } from "node:test"
import { BatchClient, DescribeComputeEnvironmentsCommand, DescribeJobQueuesCommand } from "@aws-sdk/client-batch"
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation"
import { DescribeRepositoriesCommand, ECRClient, PutImageCommand } from "@aws-sdk/client-ecr"
import { GetPolicyCommand, GetPolicyVersionCommand, GetRoleCommand, IAMClient } from "@aws-sdk/client-iam"
import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { packageVersion } from "../../runtime/package-root.js"
import { hostPolicy, resolvePolicyString } from "../../runtime/setup/host-policy.js"
import { policyValues } from "../../runtime/setup/setup-check.js"
import type { StackSettings } from "../../runtime/setup/stack-settings.js"
import { builtAgent } from "../agent/agent-harness.js"
import { type BatchEndpoint, startBatchEndpoint } from "../support/batch-endpoint.js"
import { type CliResult, runCli } from "../support/cli.js"
import { type IamSimulator, startIamSimulator } from "../support/iam-simulator.js"
import { type Moto, startMoto } from "../support/moto.js"
import { type TempProject, tempProject } from "../support/project.js"

const started = await startMoto()
const skip = started.skip
const moto = started as Moto
after(() => started.stop())

const MOTO_PARAMETERS = ["CreateBatchServiceRole=true", "InstanceTypes=optimal"]
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.v2+json",
  config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 7023, digest: `sha256:${"c".repeat(64)}` },
  layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: 32654, digest: `sha256:${"d".repeat(64)}` }],
})

const json = (result: CliResult) => JSON.parse(result.stdout.trim().split("\n").at(-1) as string) as Record<string, unknown>
const parameter = (...pairs: string[]) => pairs.flatMap((pair) => ["--parameter", pair])

describe("reductio aws (moto's CloudFormation, Batch, EC2, IAM, S3 and ECR)", { skip }, () => {
  let project: TempProject
  let clients: { cfn: CloudFormationClient; batch: BatchClient; iam: IAMClient; ecr: ECRClient; s3: S3Client }
  let network: Record<string, string>
  let settings: StackSettings & { action: string }

  const aws = (args: readonly string[], extra: Record<string, string> = {}) =>
    runCli(["aws", ...args], { cwd: project.dir, env: { ...moto.env, ...extra } })
  const outputsOf = async (stack: string) => {
    const found = await clients.cfn.send(new DescribeStacksCommand({ StackName: stack }))
    const summary = found.Stacks?.[0]
    return {
      status: summary?.StackStatus,
      outputs: Object.fromEntries((summary?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue])) as Record<string, string>,
      parameters: Object.fromEntries((summary?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue])) as Record<string, string>,
    }
  }

  before(async () => {
    project = await tempProject("reductio-aws-setup-")
    const options = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials }
    clients = {
      cfn: new CloudFormationClient(options),
      batch: new BatchClient(options),
      iam: new IAMClient(options),
      ecr: new ECRClient(options),
      s3: new S3Client({ ...options, forcePathStyle: true }),
    }
  })
  after(async () => {
    for (const client of Object.values(clients ?? {})) client.destroy()
    await project?.remove()
  })

  it("builds its own VPC with two public subnets when given no VpcId", async () => {
    const result = await aws(["setup", "--stack", "rdxnet", ...parameter(...MOTO_PARAMETERS, "RepositoryName=rdxnet-agent"), "--json"])
    assert.equal(result.code, 0, result.stderr)
    const { status, outputs } = await outputsOf("rdxnet")
    assert.equal(status, "CREATE_COMPLETE")
    assert.match(outputs.VpcId ?? "", /^vpc-/)
    assert.equal(outputs.SubnetIds?.split(",").length, 2)
    network = outputs
  })

  it("sets up a stack in an existing VPC and prints the executor settings as the last line", async () => {
    const result = await aws([
      "setup",
      "--stack",
      "rdx",
      ...parameter(
        ...MOTO_PARAMETERS,
        "RepositoryName=rdx-agent",
        `VpcId=${network.VpcId}`,
        `SubnetIds=${network.SubnetIds}`,
        "SpotQueuePriority=7",
      ),
      "--json",
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /CREATE_COMPLETE\s+AWS::CloudFormation::Stack\s+rdx/)
    settings = json(result) as unknown as StackSettings & { action: string }
    assert.equal(settings.action, "created")
    const { outputs } = await outputsOf("rdx")
    assert.equal(outputs.VpcId, network.VpcId)
    assert.deepEqual(settings.executor, {
      type: "aws_batch",
      queue: outputs.SpotJobQueue,
      scratch: outputs.Scratch,
      role: outputs.JobRoleArn,
      image: `${outputs.RepositoryUri}:${packageVersion()}`,
      region: "us-east-1",
    })
    assert.match(settings.executor.scratch, /^s3:\/\/[a-z0-9.-]+\/reductio$/)
  })

  it("made the queues, compute environments, roles, bucket, repository and host policy it names", async () => {
    const queues =
      (await clients.batch.send(new DescribeJobQueuesCommand({ jobQueues: [settings.executor.queue, settings.fargate.queue] })))
        .jobQueues ?? []
    assert.deepEqual(
      queues.map((q) => [q.jobQueueName, q.state, q.priority]),
      [
        ["rdx-spot", "ENABLED", 7],
        ["rdx-fargate", "ENABLED", 1],
      ],
    )
    const environments =
      (
        await clients.batch.send(
          new DescribeComputeEnvironmentsCommand({
            computeEnvironments: queues.map((q) => q.computeEnvironmentOrder?.[0]?.computeEnvironment ?? ""),
          }),
        )
      ).computeEnvironments ?? []
    assert.deepEqual(
      environments.map((e) => [e.type, e.computeResources?.type, e.computeResources?.subnets?.join(",")]),
      [
        ["MANAGED", "SPOT", network.SubnetIds],
        ["MANAGED", "FARGATE", network.SubnetIds],
      ],
    )
    assert.match(environments[0]?.computeResources?.instanceRole ?? "", /:instance-profile\//)
    const roleName = settings.executor.role.split("/").at(-1)
    const role = await clients.iam.send(new GetRoleCommand({ RoleName: roleName }))
    assert.match(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? ""), /ecs-tasks\.amazonaws\.com/)
    await clients.s3.send(new HeadBucketCommand({ Bucket: settings.executor.scratch.split("/")[2] }))
    const repositories = await clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [settings.repository.name] }))
    assert.equal(repositories.repositories?.[0]?.repositoryUri, settings.repository.uri)
    const policy = await clients.iam.send(new GetPolicyCommand({ PolicyArn: settings.hostPolicy }))
    const version = await clients.iam.send(
      new GetPolicyVersionCommand({ PolicyArn: settings.hostPolicy, VersionId: policy.Policy?.DefaultVersionId }),
    )
    const document = JSON.parse(decodeURIComponent(version.PolicyVersion?.Document ?? "")) as unknown
    const values = policyValues(settings, "123456789012", "arn:aws:iam::123456789012:user/moto")
    const expected = JSON.parse(resolvePolicyString(JSON.stringify(hostPolicy()), values)) as unknown
    assert.deepEqual(document, expected)
  })

  it("writes reductio.config.ts, and refuses to replace a different one without --force", async () => {
    await project.write("reductio.config.ts", "export default {}\n")
    const refused = await aws(["setup", "--stack", "rdx", "--write-config", "--json"])
    assert.equal(refused.code, 2)
    assert.equal((json(refused).error as { code: string }).code, "INVALID_ARGUMENT")
    assert.equal(await readFile(`${project.dir}/reductio.config.ts`, "utf8"), "export default {}\n")
    const written = await aws(["setup", "--stack", "rdx", "--write-config", "--force"])
    assert.equal(written.code, 0, written.stderr)
    const config = await readFile(`${project.dir}/reductio.config.ts`, "utf8")
    assert.ok(config.includes(`queue: ${JSON.stringify(settings.executor.queue)}`))
    assert.ok(config.includes(`role: ${JSON.stringify(settings.executor.role)}`))
  })

  it("runs a workflow on the Batch executor with the settings setup wrote", async () => {
    await clients.ecr.send(
      new PutImageCommand({ repositoryName: settings.repository.name, imageTag: packageVersion(), imageManifest: MANIFEST }),
    )
    let batch: BatchEndpoint | undefined
    try {
      batch = await startBatchEndpoint({ agentPath: await builtAgent(), env: moto.env, jobQueues: [settings.executor.queue] })
      await project.write("workflow.ts", await readFile(new URL("../../examples/batch/workflow.ts", import.meta.url), "utf8"))
      const run = await runCli(["run", "workflow.ts", "batchpi.estimate", "--chunks", "3", "--samples", "2000"], {
        cwd: project.dir,
        env: { ...moto.env, AWS_ENDPOINT_URL_BATCH: batch.endpoint },
      })
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /3\.\d+/)
      const job = batch.state.topLevelJobs().at(-1)
      assert.equal(job?.jobQueue, settings.executor.queue)
      assert.equal(job?.size, 3)
      const container = job?.definition.body.containerProperties as { jobRoleArn?: string; image?: string }
      assert.equal(container.jobRoleArn, settings.executor.role)
      assert.match(container.image ?? "", new RegExp(`^${settings.repository.uri}@sha256:`))
    } finally {
      await batch?.stop()
    }
  })

  it("updates the stack, keeping the parameters it was given before", async () => {
    const result = await aws(["setup", "--stack", "rdx", ...parameter("ScratchRetentionDays=9"), "--json"])
    assert.equal(result.code, 0, result.stderr)
    const updated = json(result) as unknown as StackSettings & { action: string }
    assert.equal(updated.action, "updated")
    assert.deepEqual(updated.executor, settings.executor)
    const { status, parameters } = await outputsOf("rdx")
    assert.equal(status, "UPDATE_COMPLETE")
    assert.equal(parameters.ScratchRetentionDays, "9")
    assert.equal(parameters.RepositoryName, "rdx-agent")
    assert.equal(parameters.VpcId, network.VpcId)
    assert.equal(parameters.SpotQueuePriority, "7")
  })

  it("checks the stack and the permissions it can probe without a policy simulator", async () => {
    const result = await aws(["check", "--stack", "rdx", "--json"])
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = json(result) as { method: string; missing: unknown[]; findings: { subject: string; status: string }[] }
    assert.equal(report.method, "probes")
    assert.deepEqual(report.missing, [])
    const status = (subject: string) => report.findings.find((f) => f.subject === subject)?.status
    assert.equal(status("s3:PutObject"), "ok")
    assert.equal(status("batch:DescribeJobs"), "ok")
    assert.equal(status("batch:SubmitJob"), "unverified")
    assert.equal(status(`agent image ${settings.executor.image}`), "ok")
    assert.equal(status(`job queue ${settings.executor.queue}`), "ok")
  })

  it("says exactly which permissions are missing when the policy simulator denies them", async () => {
    let simulator: IamSimulator | undefined
    try {
      simulator = await startIamSimulator(moto.endpoint, (action, resource) =>
        action === "batch:SubmitJob" || (action === "iam:PassRole" && resource === settings.executor.role) ? "implicitDeny" : "allowed",
      )
      const result = await aws(["check", "--stack", "rdx", "--json"], { AWS_ENDPOINT_URL_IAM: simulator.endpoint })
      assert.equal(result.code, 7, result.stderr)
      const lines = result.stdout.trim().split("\n")
      const report = JSON.parse(lines.at(-2) as string) as { method: string; missing: { subject: string; resource: string }[] }
      assert.equal(report.method, "simulation")
      assert.deepEqual(
        report.missing.map((f) => `${f.subject} ${f.resource}`),
        [
          `batch:SubmitJob arn:aws:batch:us-east-1:123456789012:job-definition/reductio-check`,
          `batch:SubmitJob ${settings.executor.queue}`,
          `batch:SubmitJob ${settings.fargate.queue}`,
          `iam:PassRole ${settings.executor.role}`,
        ],
      )
      assert.equal((json(result).error as { code: string }).code, "SETUP_INCOMPLETE")
      const list = simulator.requests.find((r) => r.actions.includes("s3:ListBucket"))
      assert.deepEqual(list?.context, { "s3:prefix": "reductio/check" })
    } finally {
      await simulator?.stop()
    }
  })

  it("checks the permissions of no particular stack", async () => {
    const result = await aws(["check", "--json"])
    assert.equal(result.code, 0, result.stderr + result.stdout)
    const report = json(result) as { stack?: string; findings: { area: string }[] }
    assert.equal(report.stack, undefined)
    assert.deepEqual([...new Set(report.findings.map((f) => f.area))], ["permission"])
  })

  it("refuses to tear down a stack whose bucket holds the run's files unless --force", async () => {
    const result = await aws(["teardown", "--stack", "rdx", "--json"])
    assert.equal(result.code, 2, result.stderr)
    const error = json(result).error as { code: string; details: { objects: number; images: number } }
    assert.equal(error.code, "STACK_NOT_EMPTY")
    assert.ok(error.details.objects > 0)
    assert.equal(error.details.images, 1)
    assert.equal((await outputsOf("rdx")).status, "UPDATE_COMPLETE")
  })

  it("tears it down with --force: bucket and repository emptied, stack, bucket and roles gone", async () => {
    const result = await aws(["teardown", "--stack", "rdx", "--force", "--json"])
    assert.equal(result.code, 0, result.stderr)
    const done = json(result) as { deleted: boolean; objectsDeleted: number; imagesDeleted: number }
    assert.equal(done.deleted, true)
    assert.ok(done.objectsDeleted > 0)
    assert.equal(done.imagesDeleted, 1)
    await assert.rejects(clients.cfn.send(new DescribeStacksCommand({ StackName: "rdx" })), /does not exist/)
    await assert.rejects(clients.s3.send(new HeadBucketCommand({ Bucket: settings.executor.scratch.split("/")[2] })))
    await assert.rejects(clients.iam.send(new GetRoleCommand({ RoleName: settings.executor.role.split("/").at(-1) })))
    await assert.rejects(clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [settings.repository.name] })))
  })

  it("is STACK_NOT_FOUND for a stack that is not there", async () => {
    const teardown = await aws(["teardown", "--stack", "rdx", "--json"])
    assert.equal(teardown.code, 4)
    assert.equal((json(teardown).error as { code: string }).code, "STACK_NOT_FOUND")
    const check = await aws(["check", "--stack", "rdx"])
    assert.equal(check.code, 4)
  })
})
