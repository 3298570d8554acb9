/**
 * @module aws-command
 * `reductio aws setup | teardown | check`: deploys reductio's CloudFormation stack (the Batch
 * environment: network, compute environments, queues, roles, scratch bucket, image repository,
 * host policy), prints or writes the executor settings it provides, deletes it, and checks that a
 * caller can use it. Region, endpoints and credentials come from the standard AWS configuration;
 * `--region` overrides the region.
 */
import { resolve } from "node:path"
import type { Command } from "commander"
import { exitCodeOf, isReductioError, ReductioError } from "../errors.js"
import { packageVersion } from "../package-root.js"
import type { StackEvent } from "../setup/cloudformation-client.js"
import type { CheckReport } from "../setup/setup-check.js"
import { configSnippet, type StackSettings, stackSettings, writeConfigFile } from "../setup/stack-settings.js"
import { checkStackName, parseParameters, templateBody, templateParameters } from "../setup/stack-template.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { formatFailure } from "./output.js"

interface AwsFlags {
  stack: string
  region?: string
  json?: boolean
}
interface SetupFlags extends AwsFlags {
  parameter: string[]
  writeConfig?: string | boolean
  force?: boolean
}
interface TeardownFlags extends AwsFlags {
  force?: boolean
}
type CheckFlags = Partial<AwsFlags>

export const registerAwsCommand: CommandRegistration = (program, io, done) => {
  const aws = program
    .command("aws")
    .summary("set up, check and tear down the AWS Batch environment")
    .description("Deploy reductio's CloudFormation stack (aws/reductio-batch.yaml), check it, and delete it.")
  const guard =
    <T extends { json?: boolean }>(action: (flags: T) => Promise<void>) =>
    async (flags: T) => {
      try {
        await action(flags)
        done(0)
      } catch (error) {
        io.err(`${formatFailure(error)}\n`)
        if (flags.json === true) io.out(`${JSON.stringify({ error: errorJson(error) })}\n`)
        done(exitCodeOf(error))
      }
    }
  common(aws.command("setup").description("create or update the stack and print its reductio.config.ts executor settings"))
    .option("--parameter <key=value>", "a template parameter (repeatable), e.g. SpotMaxVcpus=64", collect, [])
    .option("--write-config [path]", "write the settings to reductio.config.ts (or path) instead of printing them")
    .option("--force", "with --write-config: replace a different existing file")
    .action(guard((flags: SetupFlags) => setup(io, flags)))
  common(aws.command("teardown").description("delete the stack"))
    .option("--force", "empty the scratch bucket and the image repository first")
    .action(guard((flags: TeardownFlags) => teardown(io, flags)))
  aws
    .command("check")
    .description("check the caller's permissions and the stack's resources, and say what is missing")
    .option("--stack <name>", "the stack to check (without it, only permissions on no particular stack)")
    .option("--region <region>", "AWS region (default: AWS_REGION or the AWS config)")
    .option("--json", "print the report as JSON")
    .action(guard((flags: CheckFlags) => check(io, flags)))
}

function common(command: Command): Command {
  return command
    .requiredOption("--stack <name>", "the CloudFormation stack")
    .option("--region <region>", "AWS region (default: AWS_REGION or the AWS config)")
    .option("--json", "print the result as one JSON line")
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

async function setup(io: CliIo, flags: SetupFlags): Promise<void> {
  const stack = checkStackName(flags.stack)
  const template = templateBody()
  const known = templateParameters(template)
  const parameters = parseParameters(flags.parameter, Object.keys(known))
  checkNetwork(parameters)
  const started = Date.now()
  const { createCloudFormationApi } = await import("../setup/cloudformation-client.js")
  const { deployStack } = await import("../setup/stack-deploy.js")
  const api = createCloudFormationApi({ region: flags.region })
  try {
    const request = { stack, template, templateParameters: known, parameters }
    const result = await deployStack(api, request, { onEvent: progress(io) })
    const settings = stackSettings(result.stack, packageVersion())
    io.err(`stack ${stack} ${result.action} (${result.stack.status}) in ${seconds(started)}\n`)
    await imageHint(io, settings, flags.region)
    io.err(`attach ${settings.hostPolicy} to the users and roles that run reductio\n`)
    const snippet = configSnippet(settings)
    if (flags.writeConfig !== undefined && flags.writeConfig !== false) {
      const path = resolve(io.cwd, typeof flags.writeConfig === "string" ? flags.writeConfig : "reductio.config.ts")
      const written = writeConfigFile(path, snippet, flags.force === true)
      io.err(`${written === "written" ? "wrote" : "unchanged:"} ${path}\n`)
    } else if (flags.json !== true) {
      io.out(snippet)
    }
    if (flags.json === true) io.out(`${JSON.stringify(setupJson(settings, result.action))}\n`)
  } finally {
    api.destroy()
  }
}

function setupJson(settings: StackSettings, action: string) {
  return {
    stack: settings.stack,
    action,
    executor: settings.executor,
    fargate: settings.fargate,
    repository: settings.repository,
    bucket: settings.bucket,
    hostPolicy: settings.hostPolicy,
    computeEnvironments: settings.computeEnvironments,
  }
}

/** Says how to push the agent image when the repository does not hold this version yet. */
async function imageHint(io: CliIo, settings: StackSettings, region: string | undefined): Promise<void> {
  const { EcrRegistry } = await import("../image/ecr-registry.js")
  const ecr = new EcrRegistry({ region: region ?? settings.executor.region })
  try {
    await ecr.resolveDigest(settings.repository.name, packageVersion())
  } catch (error) {
    if (!isReductioError(error, "NOT_FOUND")) return
    io.err(
      `push the agent image before the first run: npm run build && npx reductio image build && npx reductio image push --repository ${settings.repository.name}\n`,
    )
  } finally {
    ecr.close()
  }
}

/** An existing VPC needs its subnets named with it (the previous stack's would be another VPC's). */
function checkNetwork(parameters: Readonly<Record<string, string>>): void {
  const vpc = parameters["VpcId"]
  if (vpc !== undefined && vpc !== "" && (parameters["SubnetIds"] ?? "").trim() === "") {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      "--parameter VpcId needs --parameter SubnetIds=subnet-a,subnet-b (two or more subnets of that VPC)",
      {
        details: { parameter: "SubnetIds" },
      },
    )
  }
}

async function teardown(io: CliIo, flags: TeardownFlags): Promise<void> {
  const stack = checkStackName(flags.stack)
  const started = Date.now()
  const { createCloudFormationApi } = await import("../setup/cloudformation-client.js")
  const { teardownStack } = await import("../setup/stack-teardown.js")
  const { stackContents } = await import("../setup/stack-contents.js")
  if (flags.region !== undefined) await regionForS3(flags.region)
  const api = createCloudFormationApi({ region: flags.region })
  try {
    const contents = stackContents({ region: flags.region })
    const result = await teardownStack(api, contents, { stack, force: flags.force === true }, { onEvent: progress(io) })
    if (result.objectsDeleted > 0 || result.imagesDeleted > 0) {
      io.err(`emptied: ${result.objectsDeleted} objects and ${result.imagesDeleted} images\n`)
    }
    io.err(`stack ${stack} deleted in ${seconds(started)}\n`)
    io.out(flags.json === true ? `${JSON.stringify({ ...result, deleted: true })}\n` : `deleted ${stack}\n`)
  } finally {
    api.destroy()
  }
}

async function check(io: CliIo, flags: CheckFlags): Promise<void> {
  const stack = flags.stack === undefined ? undefined : checkStackName(flags.stack)
  const { createCheckClients } = await import("../setup/check-clients.js")
  const clients = await createCheckClients(flags.region)
  try {
    const { checkSetup } = await import("../setup/setup-check.js")
    const report = await checkSetup(clients, {
      stack,
      imageTag: packageVersion(),
      region: flags.region ?? io.env["AWS_REGION"] ?? io.env["AWS_DEFAULT_REGION"],
    })
    io.out(flags.json === true ? `${JSON.stringify(report)}\n` : formatReport(report))
    if (report.missing.length > 0) {
      throw new ReductioError("SETUP_INCOMPLETE", `${report.missing.length} missing (listed above)`, {
        details: { missing: report.missing.map((finding) => finding.subject) },
      })
    }
  } finally {
    clients.destroy()
  }
}

function formatReport(report: CheckReport): string {
  const how =
    report.method === "simulation" ? "IAM policy simulation" : `probing calls (IAM simulation unavailable: ${report.reason ?? ""})`
  const lines = [`caller ${report.caller}; permissions checked by ${how}`]
  for (const finding of report.findings) {
    const on = finding.resource === undefined ? "" : ` on ${finding.resource}`
    const detail = finding.detail === undefined || finding.status === "ok" ? "" : `: ${finding.detail}`
    lines.push(`${finding.status.padEnd(10)} ${finding.subject}${on}${detail}`)
  }
  lines.push(report.missing.length === 0 ? "nothing is missing" : `${report.missing.length} missing`)
  return `${lines.join("\n")}\n`
}

/** Prints each stack event as CloudFormation's console shows it. */
function progress(io: CliIo): (event: StackEvent) => void {
  return (event) => {
    const time = event.timestamp.toISOString().slice(11, 19)
    const reason = event.reason === undefined || event.reason === "" ? "" : `  ${event.reason}`
    io.err(`${time}  ${event.status.padEnd(20)} ${event.resourceType.padEnd(34)} ${event.logicalId}${reason}\n`)
  }
}

/** S3 calls go to the stack's region (endpoint and path style still come from the environment). */
async function regionForS3(region: string): Promise<void> {
  const { configureS3 } = await import("../storage/storage-registry.js")
  configureS3({ region })
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`
}

function errorJson(error: unknown) {
  if (isReductioError(error))
    return { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) }
  return { message: error instanceof Error ? error.message : String(error) }
}
