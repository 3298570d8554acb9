// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the template's strings are CloudFormation Fn::Sub strings
import assert from "node:assert/strict"
import { readdirSync, readFileSync } from "node:fs"
import { describe, it } from "node:test"
import { HOST_CALLS, hostPolicy, resolvePolicyString } from "../../runtime/setup/host-policy.js"
import { sampleResources } from "../../runtime/setup/permission-check.js"

const root = new URL("../../", import.meta.url)
const source = (path: string) => readFileSync(new URL(path, root), "utf8")

/** The SDK command classes (and lib-storage's Upload) a file imports from the AWS SDK. */
function importedCommands(text: string): string[] {
  const names: string[] = []
  for (const [, list] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/(?:client-[a-z0-9-]+|lib-storage)"/g)) {
    for (const entry of (list as string).split(",")) {
      const name = entry.trim().replace(/^type\s+/, "")
      if (/Command$/.test(name) || name === "Upload") names.push(name)
    }
  }
  return names
}

const adapters = [...new Set(HOST_CALLS.map((call) => call.adapter))]

describe("the host policy", () => {
  it("lists every AWS SDK command the adapter files import", () => {
    for (const adapter of adapters) {
      const listed = HOST_CALLS.filter((call) => call.adapter === adapter).map((call) => call.command)
      for (const command of importedCommands(source(adapter)))
        assert.ok(listed.includes(command), `${adapter} imports ${command}, which HOST_CALLS does not list`)
    }
  })

  it("lists no call its adapter does not make", () => {
    for (const call of HOST_CALLS) assert.ok(source(call.adapter).includes(call.command), `${call.adapter} does not use ${call.command}`)
  })

  it("covers every runtime file that imports an AWS SDK client", () => {
    const files = readdirSync(new URL("runtime", root), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => `runtime/${file}`)
      .filter((file) => importedCommands(source(file)).length > 0)
    assert.ok(files.includes("runtime/executor/batch/batch-client.ts"))
    for (const file of files) assert.ok(adapters.includes(file), `${file} calls AWS but HOST_CALLS does not list it`)
  })

  it("grants each executor call its action, scoped to the stack's resources", () => {
    const statement = (sid: string) => hostPolicy().Statement.find((s) => s.Sid === sid)
    assert.deepEqual(statement("BatchSubmit")?.Action, ["batch:SubmitJob"])
    assert.deepEqual(statement("BatchSubmit")?.Resource, [
      "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job-definition/reductio-*",
      "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job-queue/${AWS::StackName}-*",
    ])
    assert.deepEqual(statement("PassJobRoles")?.Resource, ["${JobRole.Arn}", "${FargateExecutionRole.Arn}"])
    assert.deepEqual(statement("ScratchObjects")?.Action, ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"])
    // CreateStack and friends are an administrator's, not a host's.
    assert.equal(JSON.stringify(hostPolicy()).includes("cloudformation:CreateStack"), false)
    for (const s of hostPolicy().Statement) assert.equal(new Set(s.Action).size, s.Action.length)
  })

  it("resolves to the stack's ARNs, simulated on the resources a pattern matches", () => {
    const values = { "AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::StackName": "rdx" }
    const queue = resolvePolicyString("arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job-queue/${AWS::StackName}-*", values)
    assert.equal(queue, "arn:aws:batch:eu-west-1:123456789012:job-queue/rdx-*")
    const spot = "arn:aws:batch:eu-west-1:123456789012:job-queue/rdx-spot"
    assert.deepEqual(sampleResources(queue, [spot, "arn:aws:batch:eu-west-1:123456789012:job-queue/other-spot"]), [spot])
    assert.deepEqual(sampleResources("arn:aws:s3:::b/reductio/*", []), ["arn:aws:s3:::b/reductio/check"])
    assert.deepEqual(sampleResources("*", [spot]), ["*"])
  })
})
