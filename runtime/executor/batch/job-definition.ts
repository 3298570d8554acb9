/**
 * @module job-definition
 * Job definitions named by the hash of their content (`reductio-<hash16>`), registered once and
 * reused while an ACTIVE revision exists: deregistered definitions linger for 180 days, so a
 * definition per run would pile up. Nothing that changes per call goes in: the code bundle and the
 * input are `Ref::` parameters of each SubmitJob, resources are container overrides.
 *
 * The image's entrypoint is `node agent.js` (docker/), so the command holds the agent's flags only.
 * `initProcessEnabled` runs an init process as PID 1 (docker's `--init`): it forwards TerminateJob's
 * SIGTERM to the agent, which then writes a CANCELLED record and exits 143, and reaps the zombies a
 * task's subprocesses leave.
 */
import { sha256 } from "../../hashing.js"
import type { BatchApi, JobDefinitionRequest } from "./batch-client.js"
import type { BatchJobOptions, BatchVolume } from "./batch-options.js"

/**
 * What decides a job definition: the image and the container settings of {@link BatchJobOptions}
 * (queue, priority, share and `propagateTags` of the options go in each SubmitJob instead).
 */
export interface DefinitionSpec extends Omit<BatchJobOptions, "queue" | "schedulingPriority" | "shareIdentifier" | "propagateTags"> {
  readonly image: string
  /** Batch-level retries of infrastructure failures a new host may fix (spot reclaim); default 0. */
  readonly hostRetries?: number | undefined
}

/** The agent's flags; the values come from each SubmitJob's parameters. */
export const AGENT_COMMAND = ["--code", "Ref::code", "--input", "Ref::input", "--scratch", "Ref::scratch"] as const

/**
 * Defaults the definition carries; each submit overrides them with the call's resources. Fargate
 * checks the pair at registration, so its defaults are a valid Fargate size.
 */
const DEFAULT_RESOURCES = [
  { type: "VCPU" as const, value: "1" },
  { type: "MEMORY" as const, value: "2048" },
]

/** The RegisterJobDefinition request for a spec, named by its content's hash. */
export function jobDefinitionOf(spec: DefinitionSpec): JobDefinitionRequest {
  const environment = sortedEntries(spec.environment).map(([name, value]) => ({ name, value }))
  const secrets = sortedEntries(spec.secrets).map(([name, valueFrom]) => ({ name, valueFrom }))
  const fargate = spec.platform === "FARGATE"
  const { jobDefinitionExtra: extra, ...rest } = spec
  const containerProperties = {
    image: spec.image,
    command: [...AGENT_COMMAND],
    resourceRequirements: DEFAULT_RESOURCES,
    environment,
    linuxParameters: {
      initProcessEnabled: true,
      ...(spec.sharedMemorySize === undefined ? {} : { sharedMemorySize: spec.sharedMemorySize }),
      ...spec.linuxParameters,
    },
    ...(secrets.length === 0 ? {} : { secrets }),
    ...(spec.role === undefined ? {} : { jobRoleArn: spec.role }),
    ...(spec.executionRole === undefined ? {} : { executionRoleArn: spec.executionRole }),
    ...(spec.privileged === undefined ? {} : { privileged: spec.privileged }),
    ...(spec.volumes === undefined ? {} : { volumes: spec.volumes.map(volumeOf) }),
    ...(spec.mountPoints === undefined ? {} : { mountPoints: spec.mountPoints.map((mount) => ({ ...mount })) }),
    ...(fargate ? fargateProperties(rest) : {}),
  }
  const extraContainer = (extra?.containerProperties ?? {}) as Record<string, unknown>
  const body = {
    type: "container" as const,
    ...(fargate ? { platformCapabilities: ["FARGATE" as const] } : {}),
    containerProperties,
    retryStrategy: {
      attempts: 1 + (spec.hostRetries ?? 0),
      // Only a lost host is worth a Batch-level retry; the scheduler retries everything else per task policy.
      evaluateOnExit: [
        { onStatusReason: "Host EC2*", action: "RETRY" as const },
        { onReason: "*", action: "EXIT" as const },
      ],
    },
    propagateTags: true,
    ...(spec.tags === undefined ? {} : { tags: { ...spec.tags } }),
    ...extra,
    ...(extra?.containerProperties === undefined ? {} : { containerProperties: { ...containerProperties, ...extraContainer } }),
  }
  const name = `reductio-${sha256(JSON.stringify(body)).slice(0, 16)}`
  return { jobDefinitionName: name, ...body } as JobDefinitionRequest
}

/** The Fargate-only container properties. */
function fargateProperties(spec: Omit<DefinitionSpec, "jobDefinitionExtra">) {
  return {
    networkConfiguration: { assignPublicIp: spec.assignPublicIp === true ? ("ENABLED" as const) : ("DISABLED" as const) },
    ...(spec.fargatePlatformVersion === undefined
      ? {}
      : { fargatePlatformConfiguration: { platformVersion: spec.fargatePlatformVersion } }),
    ...(spec.ephemeralStorage === undefined ? {} : { ephemeralStorage: { sizeInGiB: spec.ephemeralStorage } }),
  }
}

function volumeOf(volume: BatchVolume) {
  return {
    name: volume.name,
    ...(volume.efs === undefined ? {} : { efsVolumeConfiguration: { ...volume.efs } }),
    ...(volume.host === undefined ? {} : { host: { ...volume.host } }),
  }
}

function sortedEntries(record: Readonly<Record<string, string>> | undefined): [string, string][] {
  return Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * Finds or registers definitions, once per content per process.
 *
 * @example
 * const arn = await definitions.ensure({ image: "123.dkr.ecr.us-east-1.amazonaws.com/agent@sha256:…" })
 */
export class JobDefinitions {
  readonly #known = new Map<string, Promise<string>>()

  constructor(private readonly api: BatchApi) {}

  /** The ARN of the ACTIVE definition with this content, registering it when there is none. */
  ensure(spec: DefinitionSpec): Promise<string> {
    const request = jobDefinitionOf(spec)
    const name = request.jobDefinitionName as string
    let arn = this.#known.get(name)
    if (arn === undefined) {
      arn = (async () => (await this.api.findJobDefinition(name)) ?? (await this.api.registerJobDefinition(request)))()
      arn.catch(() => this.#known.delete(name))
      this.#known.set(name, arn)
    }
    return arn
  }
}
