/**
 * @module stack-settings
 * What a deployed stack means for reductio: the `aws_batch` executor settings read from its
 * outputs, the `reductio.config.ts` snippet that holds them, and writing that file without
 * clobbering a different one.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { ReductioError } from "../errors.js"
import type { StackSummary } from "./cloudformation-client.js"

/** The outputs of the template that reductio reads. */
export const STACK_OUTPUTS = [
  "Region",
  "SpotJobQueue",
  "FargateJobQueue",
  "SpotComputeEnvironment",
  "FargateComputeEnvironment",
  "JobRoleArn",
  "FargateExecutionRoleArn",
  "ScratchBucket",
  "Scratch",
  "RepositoryName",
  "RepositoryUri",
  "HostPolicyArn",
] as const
type StackOutput = (typeof STACK_OUTPUTS)[number]

/** The `aws_batch` executor a stack provides, as `reductio.config.ts` spells it. */
export interface StackExecutor {
  readonly type: "aws_batch"
  readonly queue: string
  readonly scratch: string
  readonly role: string
  readonly image: string
  readonly region: string
}

/** Everything `reductio aws setup` reports about a stack. */
export interface StackSettings {
  readonly stack: string
  readonly executor: StackExecutor
  /** The Fargate queue and the execution role its jobs would pull the image with. */
  readonly fargate: { readonly queue: string; readonly executionRole: string }
  readonly repository: { readonly name: string; readonly uri: string }
  readonly bucket: string
  readonly hostPolicy: string
  readonly computeEnvironments: readonly string[]
}

/**
 * The settings of a reductio stack; the image is the repository at `imageTag` (what
 * `reductio image push` pushes by default). INVALID_ARGUMENT when an output is missing: the stack
 * was not made from reductio's template.
 *
 * @example
 * const settings = stackSettings(stack, packageVersion())
 * settings.executor.queue // "arn:aws:batch:eu-west-1:123456789012:job-queue/reductio-spot"
 */
export function stackSettings(stack: StackSummary, imageTag: string): StackSettings {
  const output = (key: StackOutput): string => {
    const value = stack.outputs[key]
    if (value === undefined || value === "") {
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `stack ${stack.name} has no output ${key}: it was not made from reductio's template (reductio aws setup makes one)`,
        { details: { stack: stack.name, output: key } },
      )
    }
    return value
  }
  return {
    stack: stack.name,
    executor: {
      type: "aws_batch",
      queue: output("SpotJobQueue"),
      scratch: output("Scratch"),
      role: output("JobRoleArn"),
      image: `${output("RepositoryUri")}:${imageTag}`,
      region: output("Region"),
    },
    fargate: { queue: output("FargateJobQueue"), executionRole: output("FargateExecutionRoleArn") },
    repository: { name: output("RepositoryName"), uri: output("RepositoryUri") },
    bucket: output("ScratchBucket"),
    hostPolicy: output("HostPolicyArn"),
    computeEnvironments: [output("SpotComputeEnvironment"), output("FargateComputeEnvironment")],
  }
}

/**
 * A `reductio.config.ts` with the stack's executor as `batch`, and a Fargate executor on the
 * stack's Fargate queue, commented out, ready to use.
 */
export function configSnippet(settings: StackSettings): string {
  const { executor, fargate } = settings
  const field = (key: keyof StackExecutor) => `      ${key}: ${JSON.stringify(executor[key])},`
  return [
    `// The executor of the ${settings.stack} stack (reductio aws setup --stack ${settings.stack}).`,
    `import { defineConfig } from "reductio-workflow"`,
    "",
    "export default defineConfig({",
    "  executors: {",
    "    batch: {",
    field("type"),
    field("queue"),
    field("scratch"),
    field("role"),
    field("image"),
    field("region"),
    "    },",
    '    // The stack\'s Fargate queue: uncomment to run tasks given { executor: "fargate" } on Fargate.',
    "    // fargate: {",
    `    //   type: "aws_batch", platform: "FARGATE", assignPublicIp: true, vcpus: 1, memory: 2048,`,
    `    //   queue: ${JSON.stringify(fargate.queue)},`,
    `    //   executionRole: ${JSON.stringify(fargate.executionRole)},`,
    `    //   scratch: ${JSON.stringify(executor.scratch)}, role: ${JSON.stringify(executor.role)},`,
    `    //   image: ${JSON.stringify(executor.image)}, region: ${JSON.stringify(executor.region)},`,
    "    // },",
    "  },",
    "})",
    "",
  ].join("\n")
}

/**
 * Writes `text` to `path`: "written", or "unchanged" when the file already holds it. A different
 * existing file is replaced only with `force`; otherwise INVALID_ARGUMENT naming `--force`.
 */
export function writeConfigFile(path: string, text: string, force: boolean): "written" | "unchanged" {
  if (existsSync(path)) {
    const current = readFileSync(path, "utf8")
    if (current === text) return "unchanged"
    if (!force) {
      throw new ReductioError("INVALID_ARGUMENT", `${path} exists and differs from the stack's settings: pass --force to replace it`, {
        details: { path },
      })
    }
  }
  writeFileSync(path, text)
  return "written"
}
