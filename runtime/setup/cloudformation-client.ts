/**
 * @module cloudformation-client
 * The only file of reductio that touches `@aws-sdk/client-cloudformation`: the stack calls
 * `reductio aws` makes, as plain data ({@link CloudFormationApi}), with failures mapped to
 * ReductioErrors whose `details.cfnCode` keeps CloudFormation's error name. Load it with a dynamic
 * import. Region, endpoint (`AWS_ENDPOINT_URL_CLOUDFORMATION`, `AWS_ENDPOINT_URL`) and
 * credentials come from the SDK's standard configuration unless given.
 */
import {
  CloudFormationClient,
  type CloudFormationClientConfig,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  type Parameter,
  type Stack,
  UpdateStackCommand,
} from "@aws-sdk/client-cloudformation"
import { ReductioError } from "../errors.js"

/** A stack as DescribeStacks tells it. */
export interface StackSummary {
  readonly stackId: string
  readonly name: string
  /** CREATE_COMPLETE, UPDATE_IN_PROGRESS, ROLLBACK_COMPLETE, ... */
  readonly status: string
  readonly statusReason?: string | undefined
  readonly outputs: Readonly<Record<string, string>>
  readonly parameters: Readonly<Record<string, string>>
}

/** One stack event (a resource or the stack itself changing status). */
export interface StackEvent {
  readonly eventId: string
  readonly timestamp: Date
  readonly logicalId: string
  readonly resourceType: string
  readonly status: string
  readonly reason?: string | undefined
}

/** One resource of a stack. */
export interface StackResource {
  readonly logicalId: string
  readonly type: string
  readonly status: string
  readonly physicalId?: string | undefined
}

/** A stack parameter to send: a value, or the stack's previous value. */
export type StackParameter = { readonly key: string; readonly value: string } | { readonly key: string; readonly usePrevious: true }

/** What to create or update. */
export interface StackRequest {
  readonly name: string
  readonly template: string
  readonly parameters: readonly StackParameter[]
  readonly tags?: Readonly<Record<string, string>>
}

/** The CloudFormation calls of `reductio aws`. Every failure is a ReductioError (SERVICE_ERROR unless stated). */
export interface CloudFormationApi {
  /** The stack of that name or id, or undefined when there is none (or it was deleted). */
  describeStack(nameOrId: string): Promise<StackSummary | undefined>
  /** Starts creating a stack; its id. */
  createStack(request: StackRequest): Promise<string>
  /** Starts updating a stack; "unchanged" when CloudFormation finds nothing to do. */
  updateStack(request: StackRequest): Promise<"updating" | "unchanged">
  /** Starts deleting a stack. */
  deleteStack(nameOrId: string): Promise<void>
  /** The stack's events, newest first, down to (not including) the event `after`; every page. */
  events(nameOrId: string, after?: string): Promise<StackEvent[]>
  resources(nameOrId: string): Promise<StackResource[]>
  destroy(): void
}

/** How to reach CloudFormation. */
export interface CloudFormationOptions {
  readonly region?: string | undefined
  readonly endpoint?: string | undefined
  readonly credentials?: CloudFormationClientConfig["credentials"]
}

/** Event pages read at most per poll (100 events each): a longer history is not ours to print. */
const MAX_EVENT_PAGES = 20
/** The stacks reductio makes create IAM roles and a managed policy without names. */
const CAPABILITIES = ["CAPABILITY_IAM"] as const

/**
 * @example
 * const cloudformation = createCloudFormationApi({ region: "eu-west-1" })
 * const stack = await cloudformation.describeStack("reductio")
 */
export function createCloudFormationApi(options: CloudFormationOptions = {}): CloudFormationApi {
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const client = new CloudFormationClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: 6,
  })
  return {
    async describeStack(nameOrId) {
      try {
        const found = await client.send(new DescribeStacksCommand({ StackName: nameOrId }))
        const stack = found.Stacks?.[0]
        return stack === undefined || stack.StackStatus === "DELETE_COMPLETE" ? undefined : summaryOf(stack)
      } catch (error) {
        if (isMissingStack(error)) return undefined
        throw cfnError(error, `DescribeStacks ${nameOrId}`)
      }
    },
    async createStack(request) {
      const created = await client
        .send(
          new CreateStackCommand({
            StackName: request.name,
            TemplateBody: request.template,
            Parameters: request.parameters.map(parameterOf),
            Capabilities: [...CAPABILITIES],
            Tags: tagsOf(request.tags),
          }),
        )
        .catch((error: unknown) => {
          throw cfnError(error, `CreateStack ${request.name}`)
        })
      if (created.StackId === undefined)
        throw new ReductioError("SERVICE_ERROR", `CloudFormation CreateStack ${request.name} returned no StackId`)
      return created.StackId
    },
    async updateStack(request) {
      try {
        await client.send(
          new UpdateStackCommand({
            StackName: request.name,
            TemplateBody: request.template,
            Parameters: request.parameters.map(parameterOf),
            Capabilities: [...CAPABILITIES],
            Tags: tagsOf(request.tags),
          }),
        )
        return "updating"
      } catch (error) {
        // CloudFormation answers an update that changes nothing with a ValidationError.
        if (/No updates are to be performed/i.test((error as Error).message ?? "")) return "unchanged"
        throw cfnError(error, `UpdateStack ${request.name}`)
      }
    },
    async deleteStack(nameOrId) {
      await client.send(new DeleteStackCommand({ StackName: nameOrId })).catch((error: unknown) => {
        throw cfnError(error, `DeleteStack ${nameOrId}`)
      })
    },
    async events(nameOrId, after) {
      const events: StackEvent[] = []
      let nextToken: string | undefined
      for (let page = 0; page < MAX_EVENT_PAGES; page++) {
        const found = await client
          .send(new DescribeStackEventsCommand({ StackName: nameOrId, NextToken: nextToken }))
          .catch((error: unknown) => {
            throw cfnError(error, `DescribeStackEvents ${nameOrId}`)
          })
        for (const event of found.StackEvents ?? []) {
          if (event.EventId === after) return events
          events.push({
            eventId: event.EventId ?? "",
            timestamp: event.Timestamp ?? new Date(0),
            logicalId: event.LogicalResourceId ?? "",
            resourceType: event.ResourceType ?? "",
            status: event.ResourceStatus ?? "",
            reason: event.ResourceStatusReason,
          })
        }
        nextToken = found.NextToken
        if (nextToken === undefined || after === undefined) break
      }
      return events
    },
    async resources(nameOrId) {
      const found = await client.send(new DescribeStackResourcesCommand({ StackName: nameOrId })).catch((error: unknown) => {
        throw cfnError(error, `DescribeStackResources ${nameOrId}`)
      })
      return (found.StackResources ?? [])
        .filter((resource) => resource.LogicalResourceId !== undefined)
        .map((resource) => ({
          logicalId: resource.LogicalResourceId as string,
          type: resource.ResourceType ?? "",
          status: resource.ResourceStatus ?? "",
          physicalId: resource.PhysicalResourceId,
        }))
    },
    destroy: () => client.destroy(),
  }
}

function summaryOf(stack: Stack): StackSummary {
  const outputs: Record<string, string> = {}
  for (const output of stack.Outputs ?? []) if (output.OutputKey !== undefined) outputs[output.OutputKey] = output.OutputValue ?? ""
  const parameters: Record<string, string> = {}
  for (const parameter of stack.Parameters ?? []) {
    if (parameter.ParameterKey !== undefined) parameters[parameter.ParameterKey] = parameter.ParameterValue ?? ""
  }
  return {
    stackId: stack.StackId ?? "",
    name: stack.StackName ?? "",
    status: stack.StackStatus ?? "",
    statusReason: stack.StackStatusReason,
    outputs,
    parameters,
  }
}

function parameterOf(parameter: StackParameter): Parameter {
  return "usePrevious" in parameter
    ? { ParameterKey: parameter.key, UsePreviousValue: true }
    : { ParameterKey: parameter.key, ParameterValue: parameter.value }
}

function tagsOf(tags: Readonly<Record<string, string>> | undefined) {
  return tags === undefined ? undefined : Object.entries(tags).map(([Key, Value]) => ({ Key, Value }))
}

function isMissingStack(error: unknown): boolean {
  return (error as { name?: string }).name === "ValidationError" && /does not exist/i.test((error as Error).message ?? "")
}

function cfnError(error: unknown, call: string): ReductioError {
  if (error instanceof ReductioError) return error
  const cfnCode = (error as { name?: string }).name ?? "Error"
  // The SDK appends advice about hidden fields to deserialization errors: keep the first line.
  const message = ((error as Error).message ?? String(error)).split("\n")[0]
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  return new ReductioError("SERVICE_ERROR", `CloudFormation ${call} failed: ${cfnCode}: ${message}`, {
    cause: error,
    details: { cfnCode, call, ...(status === undefined ? {} : { status }) },
  })
}
