/**
 * @module setup-check
 * `reductio aws check`: can this caller run reductio, and is the stack whole? Checks who the
 * caller is, the host policy's permissions (permission-check.ts) on the stack's resources, and the
 * stack itself: its status and resources, both job queues and compute environments, the scratch
 * bucket and the agent image. Every problem is a finding with what to do about it.
 */
import { ReductioError } from "../errors.js"
import type { BatchInventory } from "../executor/batch/batch-client.js"
import type { CloudFormationApi } from "./cloudformation-client.js"
import type { IdentityApi } from "./iam-client.js"
import { type Finding, type ProbeClients, checkPermissions } from "./permission-check.js"
import { type StackSettings, stackSettings } from "./stack-settings.js"
import { isUpdatable } from "./stack-wait.js"

/** What the check needs. */
export interface CheckClients {
  readonly cloudformation: CloudFormationApi
  readonly identity: IdentityApi
  readonly inventory: BatchInventory
  /** The probe clients, given the stack's settings (its region, its scratch). */
  readonly probes: (settings: StackSettings | undefined) => Promise<ProbeClients>
}

/** What `reductio aws check` found. */
export interface CheckReport {
  readonly caller: string
  readonly stack?: string | undefined
  readonly method: "simulation" | "probes"
  /** Why the simulator was not used. */
  readonly reason?: string | undefined
  readonly findings: readonly Finding[]
  readonly missing: readonly Finding[]
}

/**
 * @example
 * const report = await checkSetup(clients, { stack: "reductio", imageTag: "0.1.0" })
 * for (const finding of report.missing) console.error(finding.subject, finding.detail)
 */
export async function checkSetup(
  clients: CheckClients,
  request: { readonly stack?: string | undefined; readonly imageTag: string; readonly region?: string | undefined },
): Promise<CheckReport> {
  const caller = await clients.identity.caller()
  const findings: Finding[] = []
  let settings: StackSettings | undefined
  if (request.stack !== undefined) {
    const stack = await clients.cloudformation.describeStack(request.stack)
    if (stack === undefined) {
      throw new ReductioError(
        "STACK_NOT_FOUND",
        `there is no stack ${request.stack} (in this region): reductio aws setup --stack ${request.stack} makes it`,
        {
          details: { stack: request.stack },
        },
      )
    }
    findings.push(resource(`stack ${stack.name}`, isUpdatable(stack.status), stack.status))
    settings = stackSettings(stack, request.imageTag)
    for (const part of await clients.cloudformation.resources(stack.stackId)) {
      if (!part.status.endsWith("_COMPLETE") || part.status.startsWith("DELETE"))
        findings.push(resource(`${part.type} ${part.logicalId}`, false, part.status))
    }
  }
  const probes = await clients.probes(settings)
  const values =
    settings === undefined ? anyStack(caller.account, caller.arn, request.region) : policyValues(settings, caller.account, caller.arn)
  const concrete =
    settings === undefined ? [] : [settings.executor.queue, settings.fargate.queue, settings.executor.role, settings.fargate.executionRole]
  const permissions = await checkPermissions(clients.identity, caller.principal, values, probes, concrete)
  findings.push(...permissions.findings)
  if (settings !== undefined) findings.push(...(await checkResources(clients.inventory, probes, settings)))
  return {
    caller: caller.arn,
    stack: request.stack,
    method: permissions.method,
    reason: permissions.reason,
    findings,
    missing: findings.filter((finding) => finding.status === "missing"),
  }
}

/** The values of the host policy's placeholders for a deployed stack. */
export function policyValues(settings: StackSettings, account: string, callerArn: string): Record<string, string> {
  const partition = /^arn:([^:]+):/.exec(callerArn)?.[1] ?? "aws"
  const region = settings.executor.region
  const prefix = /^s3:\/\/[^/]+\/(.*)$/.exec(settings.executor.scratch)?.[1] ?? ""
  return {
    "AWS::Partition": partition,
    "AWS::Region": region,
    "AWS::AccountId": account,
    "AWS::StackName": settings.stack,
    ScratchBucket: settings.bucket,
    ScratchPrefix: prefix,
    "JobRole.Arn": settings.executor.role,
    "FargateExecutionRole.Arn": settings.fargate.executionRole,
    "AgentRepository.Arn": `arn:${partition}:ecr:${region}:${account}:repository/${settings.repository.name}`,
  }
}

/** Placeholder values for a check on no particular stack: any resource of the account. */
function anyStack(account: string, callerArn: string, region: string | undefined): Record<string, string> {
  const values: Record<string, string> = {
    "AWS::Partition": /^arn:([^:]+):/.exec(callerArn)?.[1] ?? "aws",
    "AWS::Region": region ?? "*",
    "AWS::AccountId": account,
  }
  for (const name of ["AWS::StackName", "ScratchBucket", "ScratchPrefix", "JobRole.Arn", "FargateExecutionRole.Arn", "AgentRepository.Arn"])
    values[name] = "*"
  return values
}

async function checkResources(inventory: BatchInventory, probes: ProbeClients, settings: StackSettings): Promise<Finding[]> {
  const findings: Finding[] = []
  const queues = await inventory.jobQueues([settings.executor.queue, settings.fargate.queue])
  for (const arn of [settings.executor.queue, settings.fargate.queue]) {
    const queue = queues.find((q) => q.arn === arn || q.name === arn)
    findings.push(resource(`job queue ${arn}`, queue?.state === "ENABLED" && queue.status === "VALID", describeState(queue)))
  }
  const environments = await inventory.computeEnvironments(settings.computeEnvironments)
  for (const arn of settings.computeEnvironments) {
    const environment = environments.find((e) => e.arn === arn || e.name === arn)
    findings.push(
      resource(
        `compute environment ${arn}`,
        environment?.state === "ENABLED" && environment.status === "VALID",
        describeState(environment),
      ),
    )
  }
  findings.push(await scratchFinding(probes, settings))
  findings.push(await repositoryFinding(probes, settings))
  return findings
}

async function scratchFinding(probes: ProbeClients, settings: StackSettings): Promise<Finding> {
  const subject = `scratch ${settings.executor.scratch}`
  if (probes.scratch === undefined) return resource(subject, false, "no storage for it")
  try {
    await probes.scratch.storage.list(`${settings.executor.scratch}/`)[Symbol.asyncIterator]().next()
    return resource(subject, true, "reachable")
  } catch (error) {
    return resource(subject, false, (error as Error).message)
  }
}

async function repositoryFinding(probes: ProbeClients, settings: StackSettings): Promise<Finding> {
  const tag = settings.executor.image.slice(settings.executor.image.lastIndexOf(":") + 1)
  try {
    await probes.ecr.repositoryUri(settings.repository.name)
    await probes.ecr.resolveDigest(settings.repository.name, tag)
    return resource(`agent image ${settings.executor.image}`, true, "pushed")
  } catch (error) {
    const detail =
      (error as { code?: string }).code === "NOT_FOUND"
        ? `not pushed: npm run build && npx reductio image build && npx reductio image push --repository ${settings.repository.name}`
        : (error as Error).message
    return resource(`agent image ${settings.executor.image}`, false, detail)
  }
}

function describeState(found: { state: string; status: string; statusReason?: string | undefined } | undefined): string {
  if (found === undefined) return "does not exist"
  return [found.state, found.status, found.statusReason].filter((part) => part !== undefined && part !== "").join(" ")
}

function resource(subject: string, ok: boolean, detail: string): Finding {
  return { area: "resource", subject, status: ok ? "ok" : "missing", detail }
}
