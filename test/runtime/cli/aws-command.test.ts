import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { CliIo } from "../../../runtime/cli/io.js"
import { main } from "../../../runtime/cli/main.js"

function captured(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = ""
  let err = ""
  return {
    out: (text) => (out += text),
    err: (text) => (err += text),
    isTTY: false,
    columns: 100,
    cwd: process.cwd(),
    env: {},
    stdout: () => out,
    stderr: () => err,
  }
}

/** Runs `reductio aws ...args --json` in-process; these arguments are refused before any AWS call. */
async function refused(args: readonly string[]): Promise<{ code: number; error: { code: string; details?: Record<string, unknown> } }> {
  const io = captured()
  const code = await main(["aws", ...args, "--json"], io)
  const last = io.stdout().trim().split("\n").at(-1) as string
  return { code, error: (JSON.parse(last) as { error: { code: string; details?: Record<string, unknown> } }).error }
}

describe("reductio aws: arguments", () => {
  it("refuses a parameter the template does not declare, naming it", async () => {
    const { code, error } = await refused(["setup", "--stack", "rdx", "--parameter", "Colour=red"])
    assert.equal(code, 2)
    assert.equal(error.code, "INVALID_ARGUMENT")
    assert.equal(error.details?.["parameter"], "Colour")
  })

  it("refuses a stack name CloudFormation would refuse", async () => {
    for (const command of ["setup", "teardown", "check"]) {
      const { code, error } = await refused([command, "--stack", "no_underscores"])
      assert.equal(code, 2, command)
      assert.equal(error.code, "INVALID_ARGUMENT")
    }
  })

  it("refuses an existing VPC without its subnets", async () => {
    const { code, error } = await refused(["setup", "--stack", "rdx", "--parameter", "VpcId=vpc-0123"])
    assert.equal(code, 2)
    assert.equal(error.details?.["parameter"], "SubnetIds")
  })

  it("needs --stack for setup and teardown", async () => {
    const io = captured()
    assert.equal(await main(["aws", "teardown"], io), 2)
    assert.match(io.stderr(), /--stack/)
  })
})
