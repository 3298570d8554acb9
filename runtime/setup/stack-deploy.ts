/**
 * @module stack-deploy
 * Creates or updates reductio's stack and waits for it. An update keeps every parameter that was
 * set to something other than its default at that value unless the command line sets it again
 * (the API would otherwise reset it to the template's default); a parameter at its default
 * follows the template's default. An update that changes nothing is not an error. A stack
 * whose creation failed cannot be updated: that is STACK_FAILED with the way out (teardown).
 */
import { ReductioError } from "../errors.js"
import type { CloudFormationApi, StackEvent, StackParameter, StackSummary } from "./cloudformation-client.js"
import { isSettled, isUpdatable, type WaitOptions, waitForStack } from "./stack-wait.js"

/** What to deploy. */
export interface DeployRequest {
  readonly stack: string
  readonly template: string
  /** The parameters the template declares, with their defaults (for keeping previous values). */
  readonly templateParameters: Readonly<Record<string, string | undefined>>
  /** The parameters given on the command line. */
  readonly parameters: Readonly<Record<string, string>>
  readonly tags?: Readonly<Record<string, string>>
}

/** What a deployment did. */
export interface DeployResult {
  readonly action: "created" | "updated" | "unchanged"
  readonly stack: StackSummary
}

/**
 * @example
 * const { action, stack } = await deployStack(api, { stack: "reductio", template, templateParameters, parameters: {} }, { onEvent })
 */
export async function deployStack(api: CloudFormationApi, request: DeployRequest, wait: WaitOptions): Promise<DeployResult> {
  let existing = await api.describeStack(request.stack)
  if (existing !== undefined && !isSettled(existing.status)) {
    wait.onEvent(note(existing, `waiting for the running ${existing.status} to finish`))
    existing = await waitForStack(api, existing.stackId, { ...wait, after: await newestEvent(api, existing.stackId) }).catch(() =>
      api.describeStack(request.stack),
    )
  }
  if (existing === undefined) {
    const stackId = await api.createStack({
      name: request.stack,
      template: request.template,
      parameters: Object.entries(request.parameters).map(([key, value]) => ({ key, value })),
      ...(request.tags === undefined ? {} : { tags: request.tags }),
    })
    return { action: "created", stack: await settled(api, stackId, wait) }
  }
  if (!isUpdatable(existing.status)) {
    throw new ReductioError(
      "STACK_FAILED",
      `stack ${existing.name} is ${existing.status} and cannot be updated: run reductio aws teardown --stack ${existing.name}, then set it up again`,
      { details: { stack: existing.name, status: existing.status } },
    )
  }
  const after = await newestEvent(api, existing.stackId)
  const change = await api.updateStack({
    name: request.stack,
    template: request.template,
    parameters: updateParameters(request, existing),
    ...(request.tags === undefined ? {} : { tags: request.tags }),
  })
  if (change === "unchanged") return { action: "unchanged", stack: existing }
  return { action: "updated", stack: await settled(api, existing.stackId, { ...wait, after }) }
}

/**
 * The command line's values, and UsePreviousValue for every other parameter the stack set away
 * from the template's default (UsePreviousValue also keeps values DescribeStacks hides).
 */
export function updateParameters(request: DeployRequest, existing: StackSummary): StackParameter[] {
  const parameters: StackParameter[] = []
  for (const [key, fallback] of Object.entries(request.templateParameters)) {
    const value = request.parameters[key]
    const previous = existing.parameters[key]
    if (value !== undefined) parameters.push({ key, value })
    else if (previous !== undefined && previous !== fallback) parameters.push({ key, usePrevious: true })
  }
  return parameters
}

async function settled(api: CloudFormationApi, stackId: string, wait: WaitOptions): Promise<StackSummary> {
  const stack = await waitForStack(api, stackId, wait)
  if (stack === undefined) throw new ReductioError("STACK_FAILED", `stack ${stackId} disappeared while it was being deployed`)
  return stack
}

async function newestEvent(api: CloudFormationApi, stackId: string): Promise<string | undefined> {
  const events = await api.events(stackId)
  return events[0]?.eventId
}

function note(stack: StackSummary, text: string): StackEvent {
  return {
    eventId: "",
    timestamp: new Date(),
    logicalId: stack.name,
    resourceType: "AWS::CloudFormation::Stack",
    status: stack.status,
    reason: text,
  }
}
