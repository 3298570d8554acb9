import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { AGENT_COMMAND, jobDefinitionOf } from "../../../../runtime/executor/batch/job-definition.js"
import { jobNameOf } from "../../../../runtime/executor/batch/submission.js"

describe("job definitions", () => {
  it("are named by their content, so the same settings give the same name", () => {
    const a = jobDefinitionOf({ image: "agent@sha256:1", role: "arn:role", environment: { B: "2", A: "1" } })
    const b = jobDefinitionOf({ image: "agent@sha256:1", role: "arn:role", environment: { A: "1", B: "2" } })
    const c = jobDefinitionOf({ image: "agent@sha256:2", role: "arn:role", environment: { A: "1", B: "2" } })
    assert.match(a.jobDefinitionName ?? "", /^reductio-[0-9a-f]{16}$/)
    assert.equal(a.jobDefinitionName, b.jobDefinitionName)
    assert.notEqual(a.jobDefinitionName, c.jobDefinitionName)
  })

  it("hold the agent's flags with Ref:: parameters, never arguments", () => {
    const definition = jobDefinitionOf({ image: "agent:1" })
    assert.deepEqual(definition.containerProperties?.command, [...AGENT_COMMAND])
    assert.ok(AGENT_COMMAND.every((part) => part.startsWith("--") || part.startsWith("Ref::")))
  })

  it("run an init process as PID 1, so SIGTERM reaches the agent", () => {
    assert.deepEqual(jobDefinitionOf({ image: "agent:1" }).containerProperties?.linuxParameters, { initProcessEnabled: true })
  })

  it("retry only a lost host at the Batch level", () => {
    const definition = jobDefinitionOf({ image: "agent:1", hostRetries: 2 })
    assert.equal(definition.retryStrategy?.attempts, 3)
    assert.equal(definition.retryStrategy?.evaluateOnExit?.[0]?.onStatusReason, "Host EC2*")
  })

  it("name jobs in Batch's alphabet within 128 characters", () => {
    const name = jobNameOf(`ns.${"x".repeat(300)}/weird name`, "abc123")
    assert.match(name, /^reductio-[A-Za-z0-9_-]+-abc123$/)
    assert.ok(name.length <= 128)
  })
})
