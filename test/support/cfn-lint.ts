/**
 * @module cfn-lint
 * A structural linter for CloudFormation templates (cfn-lint is Python and not installable here):
 * parses YAML with CloudFormation's short-form tags into the long form (`!Ref X` becomes
 * `{ Ref: "X" }`), then checks that every Ref, GetAtt, Sub variable, If and Condition names
 * something that exists, that a conditional resource is only reached under its condition, that
 * resource types and their top-level properties come from known lists, that parameter defaults
 * satisfy their own constraints, and CloudFormation's size limits.
 *
 * @example
 * const problems = lintTemplate(parseTemplate(text))
 * assert.deepEqual(problems, [])
 */
import { parse } from "yaml"
import type { CollectionTag, ScalarTag } from "yaml"

type Json = unknown
type Node = Record<string, unknown>

const FUNCTIONS = ["Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or"]
const FUNCTIONS_ALSO = [
  "GetAZs",
  "Base64",
  "Cidr",
  "FindInMap",
  "ImportValue",
  "Contains",
  "EachMemberEquals",
  "EachMemberIn",
  "RefAll",
  "ValueOf",
  "ValueOfAll",
]

function longName(name: string): string {
  return name === "Ref" || name === "Condition" ? name : `Fn::${name}`
}

/** yaml tags for CloudFormation's short forms (scalar and sequence forms of each). */
function cloudFormationTags(): (ScalarTag | CollectionTag)[] {
  const tags: (ScalarTag | CollectionTag)[] = []
  for (const name of [...FUNCTIONS, ...FUNCTIONS_ALSO]) {
    const key = longName(name)
    tags.push({
      tag: `!${name}`,
      resolve: (value: string) => ({ [key]: name === "GetAtt" ? value.split(".") : value }),
    } as ScalarTag)
    tags.push({ tag: `!${name}`, collection: "seq", resolve: (seq) => ({ [key]: seq.toJSON() }) } as CollectionTag)
    tags.push({ tag: `!${name}`, collection: "map", resolve: (map) => ({ [key]: map.toJSON() }) } as CollectionTag)
  }
  return tags
}

/** Parses a YAML template with CloudFormation's short-form tags. */
export function parseTemplate(text: string): Node {
  return parse(text, { customTags: cloudFormationTags(), uniqueKeys: true }) as Node
}

const PSEUDO = ["AWS::AccountId", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"]

/** Known resource types, their top-level properties and the attributes GetAtt may read. */
export const RESOURCE_TYPES: Record<string, { properties: readonly string[]; attributes: readonly string[] }> = {
  "AWS::EC2::VPC": {
    properties: ["CidrBlock", "EnableDnsHostnames", "EnableDnsSupport", "InstanceTenancy", "Ipv4IpamPoolId", "Ipv4NetmaskLength", "Tags"],
    attributes: ["CidrBlock", "DefaultNetworkAcl", "DefaultSecurityGroup", "VpcId"],
  },
  "AWS::EC2::InternetGateway": { properties: ["Tags"], attributes: ["InternetGatewayId"] },
  "AWS::EC2::VPCGatewayAttachment": { properties: ["InternetGatewayId", "VpcId", "VpnGatewayId"], attributes: [] },
  "AWS::EC2::RouteTable": { properties: ["Tags", "VpcId"], attributes: ["RouteTableId"] },
  "AWS::EC2::Route": {
    properties: ["DestinationCidrBlock", "DestinationIpv6CidrBlock", "GatewayId", "NatGatewayId", "RouteTableId", "TransitGatewayId"],
    attributes: [],
  },
  "AWS::EC2::Subnet": {
    properties: ["AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "MapPublicIpOnLaunch", "Tags", "VpcId"],
    attributes: ["AvailabilityZone", "CidrBlock", "SubnetId", "VpcId"],
  },
  "AWS::EC2::SubnetRouteTableAssociation": { properties: ["RouteTableId", "SubnetId"], attributes: ["Id"] },
  "AWS::EC2::SecurityGroup": {
    properties: ["GroupDescription", "GroupName", "SecurityGroupEgress", "SecurityGroupIngress", "Tags", "VpcId"],
    attributes: ["GroupId", "VpcId"],
  },
  "AWS::IAM::Role": {
    properties: [
      "AssumeRolePolicyDocument",
      "Description",
      "ManagedPolicyArns",
      "MaxSessionDuration",
      "Path",
      "PermissionsBoundary",
      "Policies",
      "RoleName",
      "Tags",
    ],
    attributes: ["Arn", "RoleId"],
  },
  "AWS::IAM::InstanceProfile": { properties: ["InstanceProfileName", "Path", "Roles"], attributes: ["Arn"] },
  "AWS::IAM::Policy": { properties: ["Groups", "PolicyDocument", "PolicyName", "Roles", "Users"], attributes: [] },
  "AWS::IAM::ManagedPolicy": {
    properties: ["Description", "Groups", "ManagedPolicyName", "Path", "PolicyDocument", "Roles", "Users"],
    attributes: ["PolicyArn"],
  },
  "AWS::S3::Bucket": {
    properties: [
      "BucketEncryption",
      "BucketName",
      "LifecycleConfiguration",
      "OwnershipControls",
      "PublicAccessBlockConfiguration",
      "Tags",
      "VersioningConfiguration",
    ],
    attributes: ["Arn", "DomainName", "RegionalDomainName"],
  },
  "AWS::ECR::Repository": {
    properties: [
      "EmptyOnDelete",
      "EncryptionConfiguration",
      "ImageScanningConfiguration",
      "ImageTagMutability",
      "LifecyclePolicy",
      "RepositoryName",
      "RepositoryPolicyText",
      "Tags",
    ],
    attributes: ["Arn", "RepositoryUri"],
  },
  "AWS::Batch::ComputeEnvironment": {
    properties: [
      "ComputeEnvironmentName",
      "ComputeResources",
      "ReplaceComputeEnvironment",
      "ServiceRole",
      "State",
      "Tags",
      "Type",
      "UpdatePolicy",
    ],
    attributes: ["ComputeEnvironmentArn"],
  },
  "AWS::Batch::JobQueue": {
    properties: ["ComputeEnvironmentOrder", "JobQueueName", "JobStateTimeLimitActions", "Priority", "SchedulingPolicyArn", "State", "Tags"],
    attributes: ["JobQueueArn"],
  },
}

/** The properties of a Batch compute environment's ComputeResources. */
export const COMPUTE_RESOURCES = [
  "AllocationStrategy",
  "BidPercentage",
  "DesiredvCpus",
  "Ec2Configuration",
  "Ec2KeyPair",
  "ImageId",
  "InstanceRole",
  "InstanceTypes",
  "LaunchTemplate",
  "MaxvCpus",
  "MinvCpus",
  "PlacementGroup",
  "SecurityGroupIds",
  "SpotIamFleetRole",
  "Subnets",
  "Tags",
  "Type",
  "UpdateToLatestImageVersion",
]

const TOP_LEVEL = [
  "AWSTemplateFormatVersion",
  "Conditions",
  "Description",
  "Mappings",
  "Metadata",
  "Outputs",
  "Parameters",
  "Resources",
  "Rules",
]
const PARAMETER_TYPES = /^(String|Number|CommaDelimitedList|List<Number>|AWS::[A-Za-z0-9:]+|List<AWS::[A-Za-z0-9:]+>)$/
const RESOURCE_ATTRIBUTES = [
  "Condition",
  "CreationPolicy",
  "DeletionPolicy",
  "DependsOn",
  "Metadata",
  "Properties",
  "Type",
  "UpdatePolicy",
  "UpdateReplacePolicy",
]

/** What the checks of one template share. */
interface Context {
  readonly parameters: Record<string, Node>
  readonly conditions: Record<string, Json>
  readonly resources: Record<string, Node>
  readonly problems: string[]
}

/** Every problem found in a parsed template (empty when it is well-formed). */
export function lintTemplate(template: Node, text?: string): string[] {
  const context: Context = {
    parameters: (template.Parameters ?? {}) as Record<string, Node>,
    conditions: (template.Conditions ?? {}) as Record<string, Json>,
    resources: (template.Resources ?? {}) as Record<string, Node>,
    problems: [],
  }
  const { problems } = context
  for (const key of Object.keys(template)) if (!TOP_LEVEL.includes(key)) problems.push(`unknown top-level key ${key}`)
  if (template.AWSTemplateFormatVersion !== "2010-09-09") problems.push("AWSTemplateFormatVersion must be 2010-09-09")
  if (text !== undefined && Buffer.byteLength(text) > 51_200)
    problems.push("the template is larger than 51,200 bytes (TemplateBody's limit)")
  if (typeof template.Description === "string" && template.Description.length > 1024)
    problems.push("Description is longer than 1024 characters")
  for (const [name, parameter] of Object.entries(context.parameters)) lintParameter(name, parameter, problems)
  for (const [name, condition] of Object.entries(context.conditions)) walk(condition, `Conditions.${name}`, new Set(), context)
  for (const [name, rule] of Object.entries((template.Rules ?? {}) as Record<string, Node>)) lintRule(name, rule, context)
  for (const [name, resource] of Object.entries(context.resources)) lintResource(name, resource, context)
  for (const [name, output] of Object.entries((template.Outputs ?? {}) as Record<string, Node>)) {
    if (output.Value === undefined) problems.push(`Outputs.${name} has no Value`)
    if (typeof output.Description !== "string") problems.push(`Outputs.${name} has no Description`)
    walk(output.Value, `Outputs.${name}`, guardOf(output.Condition, `Outputs.${name}`, context), context)
  }
  if (Object.keys(context.resources).length > 500) problems.push("more than 500 resources")
  if (Object.keys(context.parameters).length > 200) problems.push("more than 200 parameters")
  return problems
}

/** Rules see parameters only: their conditions and assertions may name nothing else. */
function lintRule(name: string, rule: Node, context: Context): void {
  const where = `Rules.${name}`
  const parametersOnly: Context = { ...context, resources: {}, problems: context.problems }
  walk(rule.RuleCondition, `${where}.RuleCondition`, new Set(), parametersOnly)
  const assertions = rule.Assertions
  if (!Array.isArray(assertions) || assertions.length === 0) context.problems.push(`${where} has no Assertions`)
  for (const [index, assertion] of (Array.isArray(assertions) ? assertions : []).entries()) {
    const { Assert, AssertDescription } = assertion as Node
    if (Assert === undefined || typeof AssertDescription !== "string")
      context.problems.push(`${where}.Assertions[${index}] needs Assert and AssertDescription`)
    walk(Assert, `${where}.Assertions[${index}]`, new Set(), parametersOnly)
  }
}

function lintParameter(name: string, parameter: Node, problems: string[]): void {
  const where = `Parameters.${name}`
  if (typeof parameter.Type !== "string" || !PARAMETER_TYPES.test(parameter.Type))
    problems.push(`${where}.Type ${String(parameter.Type)} is not a parameter type`)
  if (typeof parameter.Description !== "string" || parameter.Description.trim() === "") problems.push(`${where} has no Description`)
  const value = parameter.Default
  if (value === undefined) return
  if (typeof value !== "string" && typeof value !== "number") {
    problems.push(`${where}.Default must be a string or number`)
    return
  }
  const text = String(value)
  const allowed = parameter.AllowedValues as Json[] | undefined
  if (allowed !== undefined && !allowed.map(String).includes(text)) problems.push(`${where}.Default ${text} is not in AllowedValues`)
  if (
    typeof parameter.AllowedPattern === "string" &&
    parameter.Type === "String" &&
    !new RegExp(`^(?:${parameter.AllowedPattern})$`).test(text)
  ) {
    problems.push(`${where}.Default ${JSON.stringify(text)} does not match AllowedPattern`)
  }
  if (parameter.Type === "Number") {
    const number = Number(text)
    if (!Number.isFinite(number)) problems.push(`${where}.Default ${text} is not a number`)
    if (typeof parameter.MinValue === "number" && number < parameter.MinValue) problems.push(`${where}.Default is below MinValue`)
    if (typeof parameter.MaxValue === "number" && number > parameter.MaxValue) problems.push(`${where}.Default is above MaxValue`)
  }
}

function lintResource(name: string, resource: Node, context: Context): void {
  const where = `Resources.${name}`
  const { problems } = context
  for (const key of Object.keys(resource)) if (!RESOURCE_ATTRIBUTES.includes(key)) problems.push(`${where}: unknown attribute ${key}`)
  const known = RESOURCE_TYPES[resource.Type as string]
  if (known === undefined) {
    problems.push(`${where}: resource type ${String(resource.Type)} is not in the allowlist`)
    return
  }
  const properties = (resource.Properties ?? {}) as Node
  for (const key of Object.keys(properties))
    if (!known.properties.includes(key)) problems.push(`${where}: ${resource.Type} has no property ${key}`)
  if (resource.Type === "AWS::Batch::ComputeEnvironment") {
    for (const key of Object.keys((properties.ComputeResources ?? {}) as Node)) {
      if (!COMPUTE_RESOURCES.includes(key)) problems.push(`${where}: ComputeResources has no property ${key}`)
    }
  }
  const guard = guardOf(resource.Condition, where, context)
  const dependsOn = resource.DependsOn === undefined ? [] : ([] as Json[]).concat(resource.DependsOn)
  for (const dependency of dependsOn) checkResourceReference(String(dependency), `${where}.DependsOn`, guard, context)
  walk(properties, where, guard, context)
}

/** The conditions known to hold where `condition` guards a resource or output. */
function guardOf(condition: Json, where: string, context: Context): Set<string> {
  if (condition === undefined) return new Set()
  if (typeof condition !== "string" || !(condition in context.conditions)) {
    context.problems.push(`${where}: Condition ${String(condition)} is not defined`)
    return new Set()
  }
  return new Set([condition])
}

function checkResourceReference(name: string, where: string, guard: Set<string>, context: Context): Node | undefined {
  const resource = context.resources[name]
  if (resource === undefined) {
    context.problems.push(`${where}: no resource ${name}`)
    return undefined
  }
  const condition = resource.Condition as string | undefined
  if (condition !== undefined && !guard.has(condition)) {
    context.problems.push(`${where}: ${name} exists only when ${condition}; reach it inside !If [${condition}, ...]`)
  }
  return resource
}

function checkRef(name: string, where: string, guard: Set<string>, context: Context): void {
  if (PSEUDO.includes(name) || name in context.parameters) return
  if (name in context.resources) checkResourceReference(name, where, guard, context)
  else context.problems.push(`${where}: Ref ${name} names no parameter, resource or pseudo parameter`)
}

function checkGetAtt(target: Json, where: string, guard: Set<string>, context: Context): void {
  const [name, attribute] = Array.isArray(target) ? target.map(String) : String(target).split(".")
  const resource = checkResourceReference(String(name), `${where} (GetAtt)`, guard, context)
  if (resource === undefined) return
  const attributes = RESOURCE_TYPES[resource.Type as string]?.attributes ?? []
  if (!attributes.includes(String(attribute)))
    context.problems.push(`${where}: ${resource.Type} has no attribute ${attribute} (GetAtt ${name})`)
}

function checkSub(argument: Json, where: string, guard: Set<string>, context: Context): void {
  const [text, variables] = Array.isArray(argument) ? (argument as [Json, Node | undefined]) : [argument, undefined]
  if (typeof text !== "string") {
    context.problems.push(`${where}: Fn::Sub needs a string`)
    return
  }
  for (const value of Object.values(variables ?? {})) walk(value, where, guard, context)
  for (const [, variable] of text.matchAll(/\$\{([^!][^}]*)\}/g)) {
    const name = variable as string
    if (variables !== undefined && name in variables) continue
    if (name.includes(".")) checkGetAtt(name, `${where} (Sub \${${name}})`, guard, context)
    else checkRef(name, `${where} (Sub \${${name}})`, guard, context)
  }
}

function checkIf(argument: Json, where: string, guard: Set<string>, context: Context): void {
  const [condition, whenTrue, whenFalse] = Array.isArray(argument) ? argument : []
  if (typeof condition !== "string" || !(condition in context.conditions) || !Array.isArray(argument) || argument.length !== 3) {
    context.problems.push(`${where}: Fn::If needs [a defined condition, a value, a value]`)
    return
  }
  walk(whenTrue, where, new Set([...guard, condition]), context)
  walk(whenFalse, where, guard, context)
}

/** Checks every intrinsic function inside `value`. */
function walk(value: Json, where: string, guard: Set<string>, context: Context): void {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) walk(item, `${where}[${index}]`, guard, context)
    return
  }
  if (typeof value !== "object" || value === null) return
  const node = value as Node
  const keys = Object.keys(node)
  const fn = keys.length === 1 ? keys[0] : undefined
  if (fn === "Ref") checkRef(String(node.Ref), where, guard, context)
  else if (fn === "Condition" && typeof node.Condition === "string") {
    if (!(node.Condition in context.conditions)) context.problems.push(`${where}: no condition ${node.Condition}`)
  } else if (fn === "Fn::GetAtt") checkGetAtt(node[fn], where, guard, context)
  else if (fn === "Fn::Sub") checkSub(node[fn], where, guard, context)
  else if (fn === "Fn::If") checkIf(node[fn], where, guard, context)
  else for (const [key, child] of Object.entries(node)) walk(child, `${where}.${key}`, guard, context)
}
