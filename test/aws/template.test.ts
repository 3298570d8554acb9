// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the template's strings are CloudFormation Fn::Sub strings
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { describe, it } from "node:test"
import { hostPolicy, withPolicySection } from "../../runtime/setup/host-policy.js"
import { STACK_OUTPUTS } from "../../runtime/setup/stack-settings.js"
import { TEMPLATE_BODY_LIMIT, templateBody, templateParameters } from "../../runtime/setup/stack-template.js"
import { lintTemplate, parseTemplate } from "../support/cfn-lint.js"

type Node = Record<string, unknown>

const text = templateBody()
const template = parseTemplate(text)
const resources = template.Resources as Record<string, Node>
const properties = (name: string) => resources[name]?.Properties as Node
const parameters = template.Parameters as Record<string, Node>

/** The long form of a template fragment with every `Fn::Sub` string replaced by the string. */
function unsub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unsub)
  if (typeof value !== "object" || value === null) return value
  const node = value as Node
  if (Object.keys(node).length === 1 && typeof node["Fn::Sub"] === "string") return node["Fn::Sub"]
  return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, unsub(child)]))
}

describe("the CloudFormation template (aws/reductio-batch.yaml)", () => {
  it("lints clean: every reference resolves, types and properties are known, defaults meet their constraints", () => {
    assert.deepEqual(lintTemplate(template, text), [])
    assert.ok(Buffer.byteLength(text) < TEMPLATE_BODY_LIMIT)
  })

  it("is read by the CLI with the same parameter names and defaults as a YAML parser reads it", () => {
    const fromYaml = Object.fromEntries(
      Object.entries(parameters).map(([name, parameter]) => [
        name,
        parameter.Default === undefined ? undefined : String(parameter.Default),
      ]),
    )
    assert.deepEqual(templateParameters(text), fromYaml)
  })

  it("builds a VPC with two public subnets in two zones only when no VpcId is given", () => {
    for (const name of ["Vpc", "InternetGateway", "GatewayAttachment", "PublicRoute", "PublicSubnetA", "PublicSubnetB"]) {
      assert.equal(resources[name]?.Condition, "CreateVpc", name)
    }
    assert.deepEqual(template.Conditions && (template.Conditions as Node).CreateVpc, { "Fn::Equals": [{ Ref: "VpcId" }, ""] })
    assert.deepEqual(properties("PublicSubnetA").AvailabilityZone, { "Fn::Select": [0, { "Fn::GetAZs": "" }] })
    assert.deepEqual(properties("PublicSubnetB").AvailabilityZone, { "Fn::Select": [1, { "Fn::GetAZs": "" }] })
    assert.equal(properties("PublicSubnetA").MapPublicIpOnLaunch, true)
    const subnets = { "Fn::If": ["CreateVpc", [{ Ref: "PublicSubnetA" }, { Ref: "PublicSubnetB" }], { Ref: "SubnetIds" }] }
    assert.deepEqual((properties("SpotComputeEnvironment").ComputeResources as Node).Subnets, subnets)
    assert.deepEqual((properties("FargateComputeEnvironment").ComputeResources as Node).Subnets, subnets)
  })

  it("has a managed Spot EC2 and a Fargate compute environment, each with its own queue and priority", () => {
    const spot = properties("SpotComputeEnvironment")
    const spotResources = spot.ComputeResources as Node
    assert.equal(spot.Type, "MANAGED")
    assert.equal(spotResources.Type, "SPOT")
    assert.equal(spotResources.MinvCpus, 0)
    assert.deepEqual(spotResources.InstanceRole, { "Fn::GetAtt": ["InstanceProfile", "Arn"] })
    const fargate = properties("FargateComputeEnvironment")
    const fargateResources = fargate.ComputeResources as Node
    assert.deepEqual(fargateResources.Type, { Ref: "FargateCapacity" })
    assert.deepEqual(parameters.FargateCapacity?.AllowedValues, ["FARGATE", "FARGATE_SPOT"])
    // Batch refuses EC2-only settings on Fargate compute environments.
    for (const key of ["MinvCpus", "InstanceTypes", "InstanceRole", "AllocationStrategy", "BidPercentage"])
      assert.equal(key in fargateResources, false, key)
    for (const [queue, environment, priority] of [
      ["SpotJobQueue", "SpotComputeEnvironment", "SpotQueuePriority"],
      ["FargateJobQueue", "FargateComputeEnvironment", "FargateQueuePriority"],
    ] as const) {
      assert.deepEqual(properties(queue).ComputeEnvironmentOrder, [{ Order: 1, ComputeEnvironment: { Ref: environment } }])
      assert.deepEqual(properties(queue).Priority, { Ref: priority })
      assert.equal(parameters[priority]?.Type, "Number")
    }
  })

  it("gives each role the trust and the rights its job needs", () => {
    const trusts = (role: string) => unsub(properties(role).AssumeRolePolicyDocument) as { Statement: { Principal: { Service: string } }[] }
    assert.equal(trusts("JobRole").Statement[0]?.Principal.Service, "ecs-tasks.amazonaws.com")
    assert.equal(trusts("FargateExecutionRole").Statement[0]?.Principal.Service, "ecs-tasks.amazonaws.com")
    assert.equal(trusts("InstanceRole").Statement[0]?.Principal.Service, "ec2.amazonaws.com")
    assert.equal(trusts("BatchServiceRole").Statement[0]?.Principal.Service, "batch.amazonaws.com")
    assert.deepEqual(properties("InstanceProfile").Roles, [{ Ref: "InstanceRole" }])
    assert.deepEqual(unsub(properties("InstanceRole").ManagedPolicyArns), [
      "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    ])
    assert.deepEqual(unsub(properties("FargateExecutionRole").ManagedPolicyArns), [
      "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    ])
    const scratch = unsub((properties("JobRole").Policies as Node[])[0]?.PolicyDocument) as { Statement: Node[] }
    assert.deepEqual(
      scratch.Statement.map((statement) => statement.Resource),
      ["arn:${AWS::Partition}:s3:::${ScratchBucket}/${ScratchPrefix}/*", "arn:${AWS::Partition}:s3:::${ScratchBucket}"],
    )
    assert.equal(resources.JobRoleDataBuckets?.Condition, "HasDataBuckets")
    assert.deepEqual(properties("JobRoleDataBuckets").Roles, [{ Ref: "JobRole" }])
  })

  it("expires jobs/ and arrays/ under the scratch prefix after ScratchRetentionDays", () => {
    const rules = (properties("ScratchBucket").LifecycleConfiguration as { Rules: Node[] }).Rules
    const expiring = rules
      .filter((rule) => rule.ExpirationInDays !== undefined)
      .map((rule) => [unsub(rule.Prefix), rule.ExpirationInDays, rule.Status])
    assert.deepEqual(expiring, [
      ["${ScratchPrefix}/jobs/", { Ref: "ScratchRetentionDays" }, "Enabled"],
      ["${ScratchPrefix}/arrays/", { Ref: "ScratchRetentionDays" }, "Enabled"],
    ])
  })

  it("outputs everything the CLI reads, and every output resolves", () => {
    const outputs = template.Outputs as Record<string, Node>
    for (const key of STACK_OUTPUTS) assert.ok(outputs[key] !== undefined, key)
    assert.deepEqual(outputs.Scratch?.Value, { "Fn::Sub": "s3://${ScratchBucket}/${ScratchPrefix}" })
  })

  it("holds the generated host policy as its HostPolicy managed policy, as aws/host-policy.json does", () => {
    assert.equal(resources.HostPolicy?.Type, "AWS::IAM::ManagedPolicy")
    assert.deepEqual(unsub(properties("HostPolicy").PolicyDocument), hostPolicy())
    const shipped = JSON.parse(readFileSync(new URL("../../aws/host-policy.json", import.meta.url), "utf8")) as unknown
    assert.deepEqual(shipped, hostPolicy(), "aws/host-policy.json is out of date: npm run host-policy")
    assert.equal(withPolicySection(text, hostPolicy()), text, "the template's host policy is out of date: npm run host-policy")
  })
})

describe("the template linter", () => {
  const lint = (yaml: string) => lintTemplate(parseTemplate(`AWSTemplateFormatVersion: "2010-09-09"\n${yaml}`))
  const bucket = "  Bucket:\n    Type: AWS::S3::Bucket\n"

  it("reports references to nothing, unknown attributes and unknown Sub variables", () => {
    const problems = lint(
      `Resources:\n${bucket}Outputs:\n  A:\n    Description: a\n    Value: !Ref Nope\n  B:\n    Description: b\n    Value: !GetAtt Bucket.Colour\n  C:\n    Description: c\n    Value: !Sub "\${Bucket}-\${Missing}"\n`,
    )
    assert.equal(problems.length, 3, problems.join("\n"))
    assert.match(problems.join("\n"), /Ref Nope/)
    assert.match(problems.join("\n"), /no attribute Colour/)
    assert.match(problems.join("\n"), /Missing/)
  })

  it("reports a conditional resource reached outside its condition, and accepts it inside !If", () => {
    const conditional = `Conditions:\n  Yes: !Equals [a, a]\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Condition: Yes\n`
    assert.match(lint(`${conditional}Outputs:\n  A:\n    Description: a\n    Value: !Ref Bucket\n`).join("\n"), /exists only when Yes/)
    assert.deepEqual(lint(`${conditional}Outputs:\n  A:\n    Description: a\n    Value: !If [Yes, !Ref Bucket, none]\n`), [])
  })

  it("reports unknown types and properties, undocumented parameters and defaults that break their own rules", () => {
    const problems = lint(
      `Parameters:\n  Size:\n    Type: Number\n    Default: 0\n    MinValue: 1\n  Name:\n    Type: String\n    Default: "UPPER"\n    AllowedPattern: "^[a-z]+$"\n    Description: a name\nResources:\n  Thing:\n    Type: AWS::Made::Up\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketNmae: x\n`,
    )
    assert.deepEqual(
      problems.map((problem) => problem.replace(/:.*/, "")),
      [
        "Parameters.Size has no Description",
        "Parameters.Size.Default is below MinValue",
        'Parameters.Name.Default "UPPER" does not match AllowedPattern',
        "Resources.Thing",
        "Resources.Bucket",
      ],
    )
  })
})
