/**
 * @module batch-options
 * The AWS Batch settings of a job beyond its resources: where it runs (queue, EC2 or Fargate),
 * what its container gets (roles, environment, secrets, volumes, Linux parameters) and how it is
 * scheduled (priority, share, tags). The same shape is accepted by the executor's configuration,
 * a task's `batch` option and a call's; {@link mergeBatchOptions} layers them, {@link checkBatchOptions}
 * refuses a bad shape and {@link checkPlacement} a combination AWS would refuse (Fargate limits).
 * No SDK here: the kernel validates task options with it.
 */
import { ReductioError } from "../../errors.js"

/** An EFS volume (or, on EC2 only, a host path) that `mountPoints` mount. */
export interface BatchVolume {
  readonly name: string
  readonly efs?: {
    readonly fileSystemId: string
    readonly rootDirectory?: string
    readonly transitEncryption?: "ENABLED" | "DISABLED"
    readonly transitEncryptionPort?: number
    readonly authorizationConfig?: { readonly accessPointId?: string; readonly iam?: "ENABLED" | "DISABLED" }
  }
  readonly host?: { readonly sourcePath: string }
}

/** Where a volume appears in the container. */
export interface BatchMountPoint {
  readonly sourceVolume: string
  readonly containerPath: string
  readonly readOnly?: boolean
}

/** Linux parameters besides the init process (always on) and `sharedMemorySize`; EC2 only. */
export interface BatchLinuxParameters {
  readonly maxSwap?: number
  readonly swappiness?: number
  readonly devices?: readonly {
    readonly hostPath: string
    readonly containerPath?: string
    readonly permissions?: readonly ("READ" | "WRITE" | "MKNOD")[]
  }[]
  readonly tmpfs?: readonly { readonly containerPath: string; readonly size: number; readonly mountOptions?: readonly string[] }[]
}

/**
 * AWS Batch settings of a job, by executor (`executors.batch`), by task and by call (`batch`).
 *
 * @example
 * task("align", align, { executor: "batch", batch: { queue: "gpu", sharedMemorySize: 2048, schedulingPriority: 50 } })
 */
export interface BatchJobOptions {
  /** Job queue name or ARN. */
  readonly queue?: string
  /** The job role ARN (`jobRoleArn`): the container's AWS access (S3 scratch at least). */
  readonly role?: string
  /** The execution role ARN: reads `secrets` and, on Fargate, pulls the image and writes logs. */
  readonly executionRole?: string
  /** `FARGATE` writes a Fargate job definition (needs `executionRole`); default `EC2`. */
  readonly platform?: "EC2" | "FARGATE"
  /** Fargate: give the task a public IP (needed in a public subnet without a NAT to pull the image). */
  readonly assignPublicIp?: boolean
  /** Fargate platform version, e.g. `LATEST` or `1.4.0`. */
  readonly fargatePlatformVersion?: string
  /** Fargate ephemeral storage in GiB (21 to 200; AWS's default is 20). */
  readonly ephemeralStorage?: number
  /** Elevated privileges on the host (EC2 only). */
  readonly privileged?: boolean
  /** `/dev/shm` size in MiB (EC2 only). */
  readonly sharedMemorySize?: number
  readonly linuxParameters?: BatchLinuxParameters
  /** Plain variables every container gets (in the job definition, in plaintext: no secrets here). */
  readonly environment?: Readonly<Record<string, string>>
  /** Secret variables: name → Secrets Manager secret or SSM parameter ARN (only the ARN is stored). */
  readonly secrets?: Readonly<Record<string, string>>
  readonly volumes?: readonly BatchVolume[]
  readonly mountPoints?: readonly BatchMountPoint[]
  /** Fair-share scheduling: higher runs first (0 to 9999), sent as SubmitJob's override. */
  readonly schedulingPriority?: number
  /** Fair-share identifier (queues with a scheduling policy require one). */
  readonly shareIdentifier?: string
  /** Tags of the job definition and of each job. */
  readonly tags?: Readonly<Record<string, string>>
  /** Copy the tags to the ECS task (default true). */
  readonly propagateTags?: boolean
  /**
   * Merged into the RegisterJobDefinition request last (its `containerProperties` key by key),
   * for a setting reductio has no option for. `jobDefinitionName`, `type` and the container's
   * `image` and `command` stay reductio's.
   */
  readonly jobDefinitionExtra?: Readonly<Record<string, unknown>>
}

/** The option names, in the order --help and errors list them. */
export const BATCH_OPTION_NAMES = [
  "queue",
  "role",
  "executionRole",
  "platform",
  "assignPublicIp",
  "fargatePlatformVersion",
  "ephemeralStorage",
  "privileged",
  "sharedMemorySize",
  "linuxParameters",
  "environment",
  "secrets",
  "volumes",
  "mountPoints",
  "schedulingPriority",
  "shareIdentifier",
  "tags",
  "propagateTags",
  "jobDefinitionExtra",
] as const satisfies readonly (keyof BatchJobOptions)[]

type Fail = (key: string, problem: string) => never

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/** Secrets Manager secrets and SSM parameters, in any partition; a plain value is refused so it never lands in a definition. */
const SECRET_ARN = /^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]*:\d{12}:(secret:|parameter\/)\S+$/
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/

/** A failure as BATCH_OPTIONS_INVALID, naming `where` (a task, a config key). */
export function batchOptionsFailure(where: string): Fail {
  return (key, problem) => {
    throw new ReductioError("BATCH_OPTIONS_INVALID", `${where}: ${key} ${problem}`, { details: { key } })
  }
}

/** Checks the shape of one layer of Batch options (`key` names it in the error). */
export function checkBatchOptions(value: unknown, key: string, fail: Fail, known: readonly string[] = BATCH_OPTION_NAMES): void {
  if (!isObject(value)) fail(key, "must be an object of AWS Batch options")
  for (const [name, option] of Object.entries(value)) {
    if (option === undefined) continue
    const at = `${key}.${name}`
    if (!known.includes(name)) fail(at, `is not an AWS Batch option; known: ${known.join(", ")}`)
    const check = CHECKS[name]
    if (check !== undefined) check(option, at, fail)
  }
}

type Check = (value: unknown, key: string, fail: Fail) => void

const string: Check = (value: unknown, key: string, fail: Fail) => {
  if (typeof value !== "string" || value === "" || value.length > 2048)
    fail(key, `must be a non-empty string (got ${JSON.stringify(value)})`)
}
const boolean: Check = (value: unknown, key: string, fail: Fail) => {
  if (typeof value !== "boolean") fail(key, `must be true or false (got ${JSON.stringify(value)})`)
}
const integer =
  (min: number, max: number): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
      fail(key, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`)
  }
const oneOf =
  (...values: readonly string[]): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (typeof value !== "string" || !values.includes(value))
      fail(key, `must be one of ${values.join(", ")} (got ${JSON.stringify(value)})`)
  }
const matching =
  (pattern: RegExp, what: string): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (typeof value !== "string" || !pattern.test(value)) fail(key, `must be ${what} (got ${JSON.stringify(value)})`)
  }
const record =
  (fields: Record<string, Check>, required: readonly string[] = []): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (!isObject(value)) fail(key, "must be an object")
    for (const name of required) if (value[name] === undefined) fail(`${key}.${name}`, "is required")
    for (const [name, field] of Object.entries(value)) {
      const check = fields[name]
      if (check === undefined) fail(`${key}.${name}`, `is not known here; known: ${Object.keys(fields).join(", ")}`)
      if (field !== undefined) check(field, `${key}.${name}`, fail)
    }
  }
const list =
  (item: Check, max: number): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (!Array.isArray(value) || value.length > max) fail(key, `must be a list of at most ${max} items`)
    for (const [index, entry] of value.entries()) item(entry, `${key}[${index}]`, fail)
  }
const variables =
  (valueCheck: Check): Check =>
  (value: unknown, key: string, fail: Fail) => {
    if (!isObject(value)) fail(key, "must be an object of variables by name")
    for (const [name, entry] of Object.entries(value)) {
      if (!ENV_NAME.test(name)) fail(`${key}.${name}`, "is not an environment variable name")
      if (name.startsWith("AWS_BATCH")) fail(`${key}.${name}`, "is reserved by AWS Batch")
      valueCheck(entry, `${key}.${name}`, fail)
    }
  }
const anyString: Check = (value: unknown, key: string, fail: Fail) => {
  if (typeof value !== "string") fail(key, `must be a string (got ${JSON.stringify(value)})`)
}

const CHECKS: Record<string, Check> = {
  queue: string,
  role: matching(ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
  executionRole: matching(ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
  platform: oneOf("EC2", "FARGATE"),
  assignPublicIp: boolean,
  fargatePlatformVersion: matching(/^(LATEST|\d+\.\d+\.\d+)$/, "LATEST or a version such as 1.4.0"),
  ephemeralStorage: integer(21, 200),
  privileged: boolean,
  sharedMemorySize: integer(1, 1_048_576),
  linuxParameters: record({
    maxSwap: integer(0, 1_048_576),
    swappiness: integer(0, 100),
    devices: list(
      record({ hostPath: string, containerPath: string, permissions: list(oneOf("READ", "WRITE", "MKNOD"), 3) }, ["hostPath"]),
      64,
    ),
    tmpfs: list(
      record({ containerPath: string, size: integer(1, 1_048_576), mountOptions: list(string, 32) }, ["containerPath", "size"]),
      64,
    ),
  }),
  environment: variables(anyString),
  // The value is not echoed: it may be the secret itself, put here by mistake.
  secrets: variables((value: unknown, key: string, fail: Fail) => {
    if (typeof value !== "string" || !SECRET_ARN.test(value))
      fail(key, "must be the ARN of a Secrets Manager secret or an SSM parameter (a secret's value never goes in the configuration)")
  }),
  volumes: list(
    record(
      {
        name: matching(/^[A-Za-z0-9_-]{1,255}$/, "a volume name (letters, digits, - and _)"),
        efs: record(
          {
            fileSystemId: matching(/^fs-[0-9a-f]+$/, "an EFS file system id (fs-…)"),
            rootDirectory: string,
            transitEncryption: oneOf("ENABLED", "DISABLED"),
            transitEncryptionPort: integer(1, 65535),
            authorizationConfig: record({
              accessPointId: matching(/^fsap-[0-9a-f]+$/, "an access point id (fsap-…)"),
              iam: oneOf("ENABLED", "DISABLED"),
            }),
          },
          ["fileSystemId"],
        ),
        host: record({ sourcePath: string }, ["sourcePath"]),
      },
      ["name"],
    ),
    64,
  ),
  mountPoints: list(
    record({ sourceVolume: string, containerPath: matching(/^\/\S*$/, "an absolute path"), readOnly: boolean }, [
      "sourceVolume",
      "containerPath",
    ]),
    64,
  ),
  schedulingPriority: integer(0, 9999),
  shareIdentifier: matching(/^[A-Za-z0-9_]{1,255}[A-Za-z0-9_*]?$/, "a share identifier (letters, digits and _, at most 255)"),
  tags: (value: unknown, key: string, fail: Fail) => {
    if (!isObject(value) || Object.keys(value).length > 50) fail(key, "must be an object of at most 50 tags")
    for (const [name, tag] of Object.entries(value)) {
      if (name === "" || name.length > 128 || name.startsWith("aws:"))
        fail(`${key}.${name}`, "is not a tag key (1 to 128 characters, not aws:)")
      if (typeof tag !== "string" || tag.length > 256) fail(`${key}.${name}`, "must be a string of at most 256 characters")
    }
  },
  propagateTags: boolean,
  jobDefinitionExtra: (value: unknown, key: string, fail: Fail) => {
    if (!isObject(value)) fail(key, "must be an object merged into the RegisterJobDefinition request")
    for (const name of ["jobDefinitionName", "type"]) if (name in value) fail(`${key}.${name}`, "is reductio's to set")
    const container = value.containerProperties
    if (container !== undefined && !isObject(container)) fail(`${key}.containerProperties`, "must be an object")
    for (const name of ["image", "command"])
      if (isObject(container) && name in container) fail(`${key}.containerProperties.${name}`, "is reductio's to set")
    if (JSON.stringify(value).length > 16 * 1024) fail(key, "is over 16 KiB (a job definition is at most 24 KiB)")
  },
}

/**
 * Layers options, later ones winning: scalars and lists replace, `environment`, `secrets`,
 * `tags` and `linuxParameters` merge by name.
 */
export function mergeBatchOptions(...layers: readonly (BatchJobOptions | undefined)[]): BatchJobOptions {
  const merged: Record<string, unknown> = {}
  for (const layer of layers) {
    if (layer === undefined) continue
    for (const [name, value] of Object.entries(layer)) {
      if (value === undefined) continue
      const byName = name === "environment" || name === "secrets" || name === "tags" || name === "linuxParameters"
      merged[name] = byName && isObject(merged[name]) ? { ...(merged[name] as object), ...(value as object) } : value
    }
  }
  return merged as BatchJobOptions
}

/** What a container asks for, as the placement check needs it. */
export interface PlacementResources {
  readonly vcpus: number
  /** MiB. */
  readonly memory: number
  readonly gpus: number
}

/** Fargate's vCPU sizes and the memory (MiB) each allows: [min, max, step]. */
const FARGATE_MEMORY: ReadonlyMap<number, readonly [number, number, number]> = new Map([
  [0.25, [512, 2048, 512]],
  [0.5, [1024, 4096, 1024]],
  [1, [2048, 8192, 1024]],
  [2, [4096, 16384, 1024]],
  [4, [8192, 30720, 1024]],
  [8, [16384, 61440, 4096]],
  [16, [32768, 122880, 8192]],
] as const)

/**
 * Refuses combinations AWS would refuse at registration or submission (then as a late, vaguer
 * error): Fargate without an execution role, GPUs or host settings on Fargate, Fargate-only
 * settings on EC2, mount points of undefined volumes, a Fargate size that does not exist.
 */
export function checkPlacement(options: BatchJobOptions, resources: PlacementResources, fail: Fail): void {
  const fargate = options.platform === "FARGATE"
  const volumes = new Set<string>()
  for (const volume of options.volumes ?? []) {
    if (volumes.has(volume.name)) fail(`volumes.${volume.name}`, "is defined twice")
    volumes.add(volume.name)
    if ((volume.efs === undefined) === (volume.host === undefined)) fail(`volumes.${volume.name}`, "must have exactly one of efs or host")
    if (fargate && volume.host !== undefined) fail(`volumes.${volume.name}.host`, "is not available on Fargate (use EFS)")
  }
  for (const mount of options.mountPoints ?? []) {
    if (!volumes.has(mount.sourceVolume)) fail(`mountPoints.${mount.sourceVolume}`, "names no volume in volumes")
  }
  if (!fargate) {
    for (const name of ["assignPublicIp", "fargatePlatformVersion", "ephemeralStorage"] as const) {
      if (options[name] !== undefined) fail(name, `is a Fargate setting: set platform: "FARGATE" or remove it`)
    }
    return
  }
  if (options.executionRole === undefined)
    fail("executionRole", `is required with platform "FARGATE" (it pulls the image and writes the logs)`)
  if (resources.gpus > 0) fail("gpus", "are not available on Fargate: use an EC2 queue")
  if (options.privileged === true) fail("privileged", "is not available on Fargate")
  if (options.sharedMemorySize !== undefined) fail("sharedMemorySize", "is not available on Fargate")
  for (const name of ["maxSwap", "swappiness", "devices", "tmpfs"] as const) {
    if (options.linuxParameters?.[name] !== undefined) fail(`linuxParameters.${name}`, "is not available on Fargate")
  }
  const memory = FARGATE_MEMORY.get(resources.vcpus)
  if (memory === undefined)
    fail("vcpus", `must be one of Fargate's sizes ${[...FARGATE_MEMORY.keys()].join(", ")} (got ${resources.vcpus})`)
  const [min, max, step] = memory
  if (resources.memory < min || resources.memory > max || (resources.memory - min) % step !== 0) {
    fail("memory", `must be ${min} to ${max} MiB in steps of ${step} with ${resources.vcpus} vCPU on Fargate (got ${resources.memory})`)
  }
}
