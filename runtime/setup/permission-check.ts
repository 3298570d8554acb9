/**
 * @module permission-check
 * Does the caller hold the host policy's permissions? Asked of IAM's policy simulator when the
 * caller may use it: every action of every statement on the stack's own resources. Otherwise
 * (no `iam:SimulatePrincipalPolicy`, or a service without it) each permission that has a harmless
 * call is probed with that call (an unknown job id, a job definition that cannot exist, a probe
 * object under the scratch prefix); a refusal for any reason but access is an allowed call. The
 * rest are reported as unverified.
 */
import { randomUUID } from "node:crypto"
import type { BatchApi } from "../executor/batch/batch-client.js"
import type { EcrRegistry } from "../image/ecr-registry.js"
import type { Storage } from "../storage/storage.js"
import { HOST_STATEMENTS, type HostStatementId, type PolicyValues, hostPolicy, resolvePolicyString } from "./host-policy.js"
import type { IdentityApi } from "./iam-client.js"

/** One thing the check looked at. */
export interface Finding {
  readonly area: "permission" | "resource"
  /** An IAM action, or a resource's kind and name. */
  readonly subject: string
  readonly status: "ok" | "missing" | "unverified"
  /** The resource a permission was checked on. */
  readonly resource?: string | undefined
  readonly detail?: string | undefined
}

/** What the probes call: the adapters, pointed at the stack's region. */
export interface ProbeClients {
  readonly batch: BatchApi
  readonly ecr: Pick<EcrRegistry, "login" | "repositoryUri" | "resolveDigest">
  /** The scratch storage and root (`s3://bucket/prefix`), when a stack names one. */
  readonly scratch?: { readonly storage: Storage; readonly root: string } | undefined
}

/** The statements `reductio aws check` verifies: the Batch executor's, the image's and the stack's. */
export const CHECKED_STATEMENTS: readonly HostStatementId[] = HOST_STATEMENTS.filter((sid) => sid !== "GlueJobs" && sid !== "PassGlueRole")

/**
 * The caller's permissions, by simulation when possible, else by probes.
 *
 * @example
 * const { method, findings } = await checkPermissions(identity, principal, values, probes, concrete)
 */
export async function checkPermissions(
  identity: IdentityApi,
  principal: string,
  values: PolicyValues,
  probes: ProbeClients,
  concrete: readonly string[],
): Promise<{ method: "simulation" | "probes"; reason?: string; findings: Finding[] }> {
  try {
    return { method: "simulation", findings: await simulate(identity, principal, values, concrete) }
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0] as string
    return { method: "probes", reason, findings: await probe(probes) }
  }
}

async function simulate(identity: IdentityApi, principal: string, values: PolicyValues, concrete: readonly string[]): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const statement of hostPolicy().Statement) {
    if (!CHECKED_STATEMENTS.includes(statement.Sid)) continue
    const resources = statement.Resource.flatMap((pattern) => sampleResources(resolvePolicyString(pattern, values), concrete))
    const context: Record<string, string> = {}
    for (const entries of Object.values(statement.Condition ?? {})) {
      for (const [key, value] of Object.entries(entries))
        context[key] = sampleResources(resolvePolicyString(value, values), [])[0] as string
    }
    const decisions = await identity.simulate(principal, statement.Action, resources, context)
    for (const action of statement.Action) {
      for (const resource of resources) {
        const decision =
          decisions.find((d) => d.action === action && (d.resource === resource || d.resource === "*"))?.decision ?? "implicitDeny"
        findings.push({
          area: "permission",
          subject: action,
          resource,
          status: decision === "allowed" ? "ok" : "missing",
          detail: decision,
        })
      }
    }
  }
  return findings
}

/** What to simulate a resource pattern with: the stack's resources it matches, or a sample name. */
export function sampleResources(pattern: string, concrete: readonly string[]): string[] {
  if (pattern === "*" || !pattern.includes("*")) return [pattern]
  const glob = new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`)
  const matching = concrete.filter((arn) => glob.test(arn))
  return matching.length > 0 ? matching : [pattern.replaceAll("*", "check")]
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
}

type Probe = readonly [subjects: readonly string[], call: () => Promise<unknown>]

async function probe(clients: ProbeClients): Promise<Finding[]> {
  const unknownId = `reductio-check-${randomUUID()}`
  const probes: Probe[] = [
    [["batch:DescribeJobDefinitions"], () => clients.batch.findJobDefinition(unknownId)],
    [["batch:DescribeJobs"], () => clients.batch.describeJobs([unknownId])],
    [["batch:ListJobs"], () => clients.batch.listChildren(unknownId, "RUNNING")],
    [["batch:TerminateJob"], () => clients.batch.terminateJob(unknownId, "reductio aws check: a job id that does not exist")],
    [["ecr:GetAuthorizationToken"], () => clients.ecr.login()],
  ]
  const { scratch } = clients
  if (scratch !== undefined) {
    const uri = `${scratch.root}/check/${unknownId}`
    probes.push([["s3:PutObject"], () => scratch.storage.writeBytes(uri, "reductio aws check")])
    probes.push([["s3:GetObject"], () => scratch.storage.readBytes(uri)])
    probes.push([["s3:ListBucket"], async () => scratch.storage.list(`${scratch.root}/check/`)[Symbol.asyncIterator]().next()])
    probes.push([["s3:DeleteObject"], () => scratch.storage.delete(uri)])
  }
  const findings: Finding[] = []
  const probed = new Set<string>()
  for (const [subjects, call] of probes) {
    const denial = await call().then(
      () => undefined,
      (error: unknown) => deniedBy(error),
    )
    for (const subject of subjects) {
      probed.add(subject)
      findings.push({ area: "permission", subject, status: denial === undefined ? "ok" : "missing", detail: denial })
    }
  }
  for (const statement of hostPolicy().Statement) {
    if (!CHECKED_STATEMENTS.includes(statement.Sid)) continue
    for (const action of statement.Action) {
      if (probed.has(action) || isCheckedElsewhere(action)) continue
      probed.add(action)
      findings.push({ area: "permission", subject: action, status: "unverified", detail: "no harmless call tests it" })
    }
  }
  return findings
}

/** Read calls the resource checks make themselves (a denial shows there). */
function isCheckedElsewhere(action: string): boolean {
  return /^(batch:DescribeJobQueues|batch:DescribeComputeEnvironments|ecr:DescribeRepositories|ecr:DescribeImages|cloudformation:Describe\w+)$/.test(
    action,
  )
}

/** The access-denied reason behind an error (its causes included), or undefined for any other failure. */
export function deniedBy(error: unknown): string | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const { name, code, message, $metadata } = current as {
      name?: string
      code?: string
      message?: string
      $metadata?: { httpStatusCode?: number }
    }
    if (code === "PERMISSION_DENIED") return message ?? "access denied"
    if (/AccessDenied|Unauthorized|NotAuthorized|Forbidden/i.test(name ?? "") || $metadata?.httpStatusCode === 403)
      return `${name}: ${message ?? ""}`
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
