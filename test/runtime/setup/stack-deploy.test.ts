// Stack operations whose outcomes moto cannot produce (it settles every operation at once, emits
// no resource events and never fails or rolls back), against a scripted CloudFormationApi.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { isReductioError } from "../../../runtime/errors.js"
import type { CloudFormationApi, StackEvent, StackRequest, StackSummary } from "../../../runtime/setup/cloudformation-client.js"
import { deployStack, updateParameters } from "../../../runtime/setup/stack-deploy.js"
import { type StackContents, teardownStack } from "../../../runtime/setup/stack-teardown.js"
import { waitForStack } from "../../../runtime/setup/stack-wait.js"

/** One poll's worth of change: new events and the status after them. */
interface Step {
  readonly events?: readonly Omit<StackEvent, "eventId" | "timestamp">[]
  readonly status: string
}

/** A stack whose operations play back scripted steps, one per poll. */
class ScriptedStack implements CloudFormationApi {
  readonly calls: string[] = []
  readonly log: StackEvent[] = []
  readonly requests: StackRequest[] = []
  script: Step[] = []
  summary: StackSummary | undefined
  updateAnswer: "updating" | "unchanged" = "updating"
  #next = 0
  /** Steps play only while an operation runs (one started here, or one running from the start). */
  #running: boolean

  constructor(status?: string, parameters: Record<string, string> = {}) {
    if (status !== undefined) this.summary = stack(status, parameters)
    this.#running = status?.endsWith("_IN_PROGRESS") === true
  }

  async describeStack(): Promise<StackSummary | undefined> {
    this.calls.push("describeStack")
    const step = this.#running ? this.script.shift() : undefined
    if (step !== undefined) {
      for (const event of step.events ?? []) this.#event(event)
      if (this.summary !== undefined) this.summary = { ...this.summary, status: step.status }
      if (step.status === "DELETE_COMPLETE") this.summary = undefined
    }
    return this.summary
  }
  async createStack(request: StackRequest): Promise<string> {
    this.calls.push("createStack")
    this.requests.push(request)
    this.summary = stack("CREATE_IN_PROGRESS", {})
    this.#running = true
    this.#event({ logicalId: "rdx", resourceType: "AWS::CloudFormation::Stack", status: "CREATE_IN_PROGRESS", reason: "User Initiated" })
    return this.summary.stackId
  }
  async updateStack(request: StackRequest): Promise<"updating" | "unchanged"> {
    this.calls.push("updateStack")
    this.requests.push(request)
    this.#running = this.updateAnswer === "updating"
    return this.updateAnswer
  }
  async deleteStack(): Promise<void> {
    this.calls.push("deleteStack")
    this.#running = true
  }
  async events(_stack: string, after?: string): Promise<StackEvent[]> {
    const newestFirst = [...this.log].reverse()
    const stop = after === undefined ? newestFirst.length : newestFirst.findIndex((event) => event.eventId === after)
    return newestFirst.slice(0, stop < 0 ? newestFirst.length : stop)
  }
  async resources() {
    return []
  }
  destroy(): void {}

  #event(event: Omit<StackEvent, "eventId" | "timestamp">): void {
    this.log.push({ ...event, eventId: `e${++this.#next}`, timestamp: new Date(1_700_000_000_000 + this.#next * 1000) })
  }
}

function stack(status: string, parameters: Record<string, string>): StackSummary {
  return { stackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/rdx/1", name: "rdx", status, outputs: {}, parameters }
}

const resource = (logicalId: string, status: string, reason?: string) => ({
  logicalId,
  resourceType: "AWS::Batch::JobQueue",
  status,
  reason,
})
const request = { stack: "rdx", template: "{}", templateParameters: { SpotMaxVcpus: "256", RepositoryName: "", VpcId: "" }, parameters: {} }

function waitOptions(seen: StackEvent[], sleeps: number[] = []) {
  return {
    onEvent: (event: StackEvent) => seen.push(event),
    sleep: async (ms: number) => {
      sleeps.push(ms)
    },
  }
}

describe("deploying the stack", () => {
  it("creates a missing stack and reports each event once, oldest first, until it settles", async () => {
    const api = new ScriptedStack()
    api.script = [
      { events: [resource("SpotJobQueue", "CREATE_IN_PROGRESS")], status: "CREATE_IN_PROGRESS" },
      { status: "CREATE_IN_PROGRESS" },
      { events: [resource("SpotJobQueue", "CREATE_COMPLETE"), resource("rdx", "CREATE_COMPLETE")], status: "CREATE_COMPLETE" },
    ]
    const seen: StackEvent[] = []
    const sleeps: number[] = []
    const result = await deployStack(api, { ...request, parameters: { SpotMaxVcpus: "64" } }, waitOptions(seen, sleeps))
    assert.equal(result.action, "created")
    assert.deepEqual(api.requests[0]?.parameters, [{ key: "SpotMaxVcpus", value: "64" }])
    assert.deepEqual(
      seen.map((event) => `${event.logicalId} ${event.status}`),
      ["rdx CREATE_IN_PROGRESS", "SpotJobQueue CREATE_IN_PROGRESS", "SpotJobQueue CREATE_COMPLETE", "rdx CREATE_COMPLETE"],
    )
    assert.deepEqual(sleeps, [2000, 3000])
  })

  it("names the resource that failed and CloudFormation's reason when a creation rolls back", async () => {
    const api = new ScriptedStack()
    api.script = [
      {
        events: [
          resource("SpotComputeEnvironment", "CREATE_FAILED", 'Resource handler returned message: "instance role not found"'),
          resource("SpotJobQueue", "CREATE_FAILED", "Resource creation cancelled"),
          resource("rdx", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [SpotComputeEnvironment]"),
        ],
        status: "ROLLBACK_IN_PROGRESS",
      },
      { events: [resource("rdx", "ROLLBACK_COMPLETE")], status: "ROLLBACK_COMPLETE" },
    ]
    await assert.rejects(deployStack(api, request, waitOptions([])), (error: unknown) => {
      assert.ok(isReductioError(error, "STACK_FAILED"))
      assert.equal(error.details?.["resource"], "SpotComputeEnvironment")
      assert.equal(error.details?.["status"], "ROLLBACK_COMPLETE")
      assert.match(String(error.details?.["reason"]), /instance role not found/)
      return true
    })
  })

  it("updates an existing stack, keeping the parameters it set away from their defaults", async () => {
    const api = new ScriptedStack("CREATE_COMPLETE", { SpotMaxVcpus: "256", RepositoryName: "agent", VpcId: "" })
    api.script = [{ status: "UPDATE_COMPLETE" }]
    const result = await deployStack(api, { ...request, parameters: { SpotMaxVcpus: "32" } }, waitOptions([]))
    assert.equal(result.action, "updated")
    assert.deepEqual(api.requests[0]?.parameters, [
      { key: "SpotMaxVcpus", value: "32" },
      { key: "RepositoryName", usePrevious: true },
    ])
  })

  it("is not an error when the update changes nothing", async () => {
    const api = new ScriptedStack("UPDATE_COMPLETE")
    api.updateAnswer = "unchanged"
    const result = await deployStack(api, request, waitOptions([]))
    assert.equal(result.action, "unchanged")
    assert.equal(result.stack.status, "UPDATE_COMPLETE")
  })

  it("says the stack still works when an update rolls back", async () => {
    const api = new ScriptedStack("CREATE_COMPLETE")
    api.script = [{ events: [resource("SpotJobQueue", "UPDATE_FAILED", "priority out of range")], status: "UPDATE_ROLLBACK_COMPLETE" }]
    await assert.rejects(deployStack(api, request, waitOptions([])), (error: unknown) => {
      assert.ok(isReductioError(error, "STACK_FAILED"))
      assert.match(error.message, /rolled back to its previous settings/)
      assert.equal(error.details?.["reason"], "priority out of range")
      return true
    })
  })

  it("refuses to update a stack whose creation failed, pointing to teardown", async () => {
    const api = new ScriptedStack("ROLLBACK_COMPLETE")
    await assert.rejects(
      deployStack(api, request, waitOptions([])),
      (error: unknown) => isReductioError(error, "STACK_FAILED") && /teardown/.test((error as Error).message),
    )
    assert.equal(api.calls.includes("updateStack"), false)
  })

  it("waits for an operation already running before updating", async () => {
    const api = new ScriptedStack("UPDATE_IN_PROGRESS")
    api.script = [{ status: "UPDATE_IN_PROGRESS" }, { status: "UPDATE_COMPLETE" }, { status: "UPDATE_COMPLETE" }]
    const result = await deployStack(api, request, waitOptions([]))
    assert.equal(result.action, "updated")
    assert.equal(api.calls.filter((call) => call === "updateStack").length, 1)
  })

  it("keeps UsePreviousValue for parameters without a default", () => {
    const existing = stack("CREATE_COMPLETE", { Secret: "****", SpotMaxVcpus: "256" })
    const parameters = updateParameters(
      { ...request, templateParameters: { Secret: undefined, SpotMaxVcpus: "256", NewOne: "x" } },
      existing,
    )
    assert.deepEqual(parameters, [{ key: "Secret", usePrevious: true }])
  })

  it("gives up with STACK_FAILED when the stack does not settle in time", async () => {
    const api = new ScriptedStack("CREATE_IN_PROGRESS")
    api.script = Array.from({ length: 10 }, () => ({ status: "CREATE_IN_PROGRESS" }))
    await assert.rejects(
      waitForStack(api, "rdx", { ...waitOptions([]), timeoutMs: 5_000 }),
      (error: unknown) => isReductioError(error, "STACK_FAILED") && error.details?.["status"] === "CREATE_IN_PROGRESS",
    )
  })
})

describe("tearing the stack down", () => {
  const full = (objects: number, images: number) => {
    const emptied: string[] = []
    const contents: StackContents = {
      listObjects: async (_bucket, limit) => Array.from({ length: Math.min(objects, limit) }, (_, i) => `s3://b/${i}`),
      emptyBucket: async (bucket) => {
        emptied.push(bucket)
        return objects
      },
      countImages: async () => images,
      emptyRepository: async (repository) => {
        emptied.push(repository)
        return images
      },
    }
    return { contents, emptied }
  }
  const deployed = () => {
    const api = new ScriptedStack("CREATE_COMPLETE")
    api.summary = { ...(api.summary as StackSummary), outputs: { ScratchBucket: "scratch-bucket", RepositoryName: "agent" } }
    return api
  }

  it("refuses a non-empty bucket or repository without --force, deleting nothing", async () => {
    const api = deployed()
    const { contents, emptied } = full(3, 1)
    await assert.rejects(teardownStack(api, contents, { stack: "rdx", force: false }, waitOptions([])), (error: unknown) => {
      assert.ok(isReductioError(error, "STACK_NOT_EMPTY"))
      assert.match(error.message, /--force/)
      assert.equal(error.details?.["objects"], 3)
      assert.equal(error.details?.["images"], 1)
      return true
    })
    assert.deepEqual(emptied, [])
    assert.equal(api.calls.includes("deleteStack"), false)
  })

  it("empties bucket and repository with --force, then deletes the stack", async () => {
    const api = deployed()
    api.script = [{ status: "DELETE_IN_PROGRESS" }, { status: "DELETE_COMPLETE" }]
    const { contents, emptied } = full(3, 1)
    const result = await teardownStack(api, contents, { stack: "rdx", force: true }, waitOptions([]))
    assert.deepEqual(result, { stack: "rdx", objectsDeleted: 3, imagesDeleted: 1 })
    assert.deepEqual(emptied, ["scratch-bucket", "agent"])
    assert.ok(api.calls.includes("deleteStack"))
  })

  it("reports a deletion that failed with the resource that kept it", async () => {
    const api = deployed()
    api.script = [
      { events: [resource("ScratchBucket", "DELETE_FAILED", "The bucket you tried to delete is not empty")], status: "DELETE_FAILED" },
    ]
    await assert.rejects(
      teardownStack(api, full(0, 0).contents, { stack: "rdx", force: false }, waitOptions([])),
      (error: unknown) => isReductioError(error, "STACK_FAILED") && error.details?.["resource"] === "ScratchBucket",
    )
  })

  it("is STACK_NOT_FOUND for a stack that does not exist", async () => {
    await assert.rejects(
      teardownStack(new ScriptedStack(), full(0, 0).contents, { stack: "rdx", force: true }, waitOptions([])),
      (error: unknown) => isReductioError(error, "STACK_NOT_FOUND"),
    )
  })
})
