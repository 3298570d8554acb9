/**
 * @module host-policy
 * The least-privilege IAM policy of a host that runs reductio, derived from what reductio calls:
 * {@link HOST_CALLS} lists every AWS call of the adapter files (a test checks the list against
 * their imports), each with the IAM actions it needs and the statement that grants them;
 * {@link hostPolicy} folds the list into a policy document. Resources are written as
 * CloudFormation `Fn::Sub` strings over the stack's own names (`${ScratchBucket}`,
 * `${JobRole.Arn}`, `${AWS::Region}`, ...), so the document is both the shipped
 * `aws/host-policy.json` and, verbatim, the template's `HostPolicy` managed policy
 * (`npm run host-policy` writes both).
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the policy's strings are CloudFormation Fn::Sub strings
import { ReductioError } from "../errors.js"

/** Statement ids, in the order the document lists them. */
export const HOST_STATEMENTS = [
  "BatchRead",
  "BatchJobDefinitions",
  "BatchSubmit",
  "BatchJobs",
  "BatchLogs",
  "PassJobRoles",
  "ScratchObjects",
  "ScratchList",
  "AgentImage",
  "EcrLogin",
  "GlueJobs",
  "PassGlueRole",
  "StackRead",
] as const
export type HostStatementId = (typeof HOST_STATEMENTS)[number]

/** Where a statement applies. */
export interface StatementScope {
  readonly resources: readonly string[]
  readonly condition?: Readonly<Record<string, Readonly<Record<string, string>>>>
}

const batchArn = (resource: string) => "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:" + resource

/** The resources of each statement (Fn::Sub strings over the stack's resources and parameters). */
export const STATEMENT_SCOPES: Readonly<Record<HostStatementId, StatementScope>> = {
  BatchRead: { resources: ["*"] },
  BatchJobDefinitions: { resources: [batchArn("job-definition/reductio-*")] },
  BatchSubmit: { resources: [batchArn("job-definition/reductio-*"), batchArn("job-queue/${AWS::StackName}-*")] },
  BatchJobs: { resources: [batchArn("job/*")] },
  BatchLogs: { resources: ["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/batch/job:*"] },
  PassJobRoles: { resources: ["${JobRole.Arn}", "${FargateExecutionRole.Arn}"] },
  ScratchObjects: { resources: ["arn:${AWS::Partition}:s3:::${ScratchBucket}/${ScratchPrefix}/*"] },
  ScratchList: {
    resources: ["arn:${AWS::Partition}:s3:::${ScratchBucket}"],
    condition: { StringLike: { "s3:prefix": "${ScratchPrefix}/*" } },
  },
  AgentImage: { resources: ["${AgentRepository.Arn}"] },
  EcrLogin: { resources: ["*"] },
  GlueJobs: { resources: ["arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:job/reductio-*"] },
  PassGlueRole: {
    resources: ["arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"],
    condition: { StringEquals: { "iam:PassedToService": "glue.amazonaws.com" } },
  },
  StackRead: { resources: ["arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*"] },
}

/** IAM actions one call needs, granted by one statement. */
export interface Grant {
  readonly statement: HostStatementId
  readonly actions: readonly string[]
}

/** One AWS call reductio makes, where, and what it needs. */
export interface HostCall {
  /** The file that makes it (relative to the package root). */
  readonly adapter: string
  /** The SDK command class (or other call) as the adapter names it. */
  readonly command: string
  /** What the host needs for it; empty for calls made only by an administrator (`reductio aws setup`). */
  readonly grants: readonly Grant[]
  /** Why a call needs no grant, or needs more than its own action. */
  readonly note?: string
}

const grant = (statement: HostStatementId, ...actions: string[]): Grant => ({ statement, actions })
const BATCH = "runtime/executor/batch/batch-client.ts"
const GLUE = "runtime/executor/glue/glue-client.ts"
const LOGS = "runtime/executor/batch/cloudwatch-logs.ts"
const S3 = "runtime/storage/s3-storage.ts"
const S3_TRANSFER = "runtime/storage/s3-transfer.ts"
const ECR = "runtime/image/ecr-registry.ts"
const DOCKER = "runtime/image/docker-cli.ts"
const CFN = "runtime/setup/cloudformation-client.ts"
const IAM = "runtime/setup/iam-client.ts"
const ADMIN = "reductio aws setup / teardown, run with administrator rights"
const SCRATCH_WRITE = ["s3:PutObject", "s3:AbortMultipartUpload"]

/** Every AWS call of reductio's adapter files. */
export const HOST_CALLS: readonly HostCall[] = [
  { adapter: BATCH, command: "DescribeJobDefinitionsCommand", grants: [grant("BatchRead", "batch:DescribeJobDefinitions")] },
  { adapter: BATCH, command: "DescribeJobsCommand", grants: [grant("BatchRead", "batch:DescribeJobs")] },
  { adapter: BATCH, command: "ListJobsCommand", grants: [grant("BatchRead", "batch:ListJobs")] },
  {
    adapter: BATCH,
    command: "RegisterJobDefinitionCommand",
    grants: [grant("BatchJobDefinitions", "batch:RegisterJobDefinition", "batch:TagResource"), grant("PassJobRoles", "iam:PassRole")],
    note: "a definition names the job role (and, on Fargate, the execution role), and carries tags",
  },
  {
    adapter: BATCH,
    command: "SubmitJobCommand",
    grants: [grant("BatchSubmit", "batch:SubmitJob"), grant("BatchJobs", "batch:TagResource")],
    note: "every job is tagged with its execution and task",
  },
  { adapter: BATCH, command: "TerminateJobCommand", grants: [grant("BatchJobs", "batch:TerminateJob")] },
  { adapter: BATCH, command: "DescribeJobQueuesCommand", grants: [grant("BatchRead", "batch:DescribeJobQueues")] },
  { adapter: BATCH, command: "DescribeComputeEnvironmentsCommand", grants: [grant("BatchRead", "batch:DescribeComputeEnvironments")] },
  {
    adapter: LOGS,
    command: "GetLogEventsCommand",
    grants: [grant("BatchLogs", "logs:GetLogEvents")],
    note: "the tail of a container's log when it died before its agent uploaded one, and reductio batch logs",
  },
  { adapter: GLUE, command: "GetJobCommand", grants: [grant("GlueJobs", "glue:GetJob")] },
  {
    adapter: GLUE,
    command: "CreateJobCommand",
    grants: [grant("GlueJobs", "glue:CreateJob", "glue:TagResource"), grant("PassGlueRole", "iam:PassRole")],
  },
  { adapter: GLUE, command: "StartJobRunCommand", grants: [grant("GlueJobs", "glue:StartJobRun")] },
  { adapter: GLUE, command: "GetJobRunCommand", grants: [grant("GlueJobs", "glue:GetJobRun")] },
  { adapter: GLUE, command: "BatchStopJobRunCommand", grants: [grant("GlueJobs", "glue:BatchStopJobRun")] },
  { adapter: S3, command: "HeadObjectCommand", grants: [grant("ScratchObjects", "s3:GetObject")] },
  { adapter: S3, command: "GetObjectCommand", grants: [grant("ScratchObjects", "s3:GetObject")] },
  { adapter: S3, command: "ListObjectsV2Command", grants: [grant("ScratchList", "s3:ListBucket")] },
  { adapter: S3, command: "DeleteObjectCommand", grants: [grant("ScratchObjects", "s3:DeleteObject")] },
  { adapter: S3, command: "DeleteObjectsCommand", grants: [grant("ScratchObjects", "s3:DeleteObject")] },
  { adapter: S3_TRANSFER, command: "HeadObjectCommand", grants: [grant("ScratchObjects", "s3:GetObject")] },
  { adapter: S3_TRANSFER, command: "GetObjectCommand", grants: [grant("ScratchObjects", "s3:GetObject")] },
  { adapter: S3_TRANSFER, command: "PutObjectCommand", grants: [grant("ScratchObjects", ...SCRATCH_WRITE)] },
  { adapter: S3_TRANSFER, command: "CopyObjectCommand", grants: [grant("ScratchObjects", "s3:GetObject", "s3:PutObject")] },
  { adapter: S3_TRANSFER, command: "CreateMultipartUploadCommand", grants: [grant("ScratchObjects", ...SCRATCH_WRITE)] },
  { adapter: S3_TRANSFER, command: "UploadPartCommand", grants: [grant("ScratchObjects", "s3:PutObject")] },
  { adapter: S3_TRANSFER, command: "UploadPartCopyCommand", grants: [grant("ScratchObjects", "s3:GetObject", "s3:PutObject")] },
  { adapter: S3_TRANSFER, command: "CompleteMultipartUploadCommand", grants: [grant("ScratchObjects", "s3:PutObject")] },
  { adapter: S3_TRANSFER, command: "AbortMultipartUploadCommand", grants: [grant("ScratchObjects", "s3:AbortMultipartUpload")] },
  { adapter: ECR, command: "DescribeImagesCommand", grants: [grant("AgentImage", "ecr:DescribeImages")] },
  { adapter: ECR, command: "DescribeRepositoriesCommand", grants: [grant("AgentImage", "ecr:DescribeRepositories")] },
  { adapter: ECR, command: "GetAuthorizationTokenCommand", grants: [grant("EcrLogin", "ecr:GetAuthorizationToken")] },
  { adapter: ECR, command: "CreateRepositoryCommand", grants: [], note: "the stack creates the repository" },
  { adapter: ECR, command: "ListImagesCommand", grants: [], note: ADMIN },
  { adapter: ECR, command: "BatchDeleteImageCommand", grants: [], note: ADMIN },
  {
    adapter: DOCKER,
    command: "push",
    grants: [
      grant(
        "AgentImage",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
      ),
    ],
    note: "reductio image push runs docker push against the repository",
  },
  { adapter: CFN, command: "DescribeStacksCommand", grants: [grant("StackRead", "cloudformation:DescribeStacks")] },
  { adapter: CFN, command: "DescribeStackResourcesCommand", grants: [grant("StackRead", "cloudformation:DescribeStackResources")] },
  { adapter: CFN, command: "DescribeStackEventsCommand", grants: [], note: ADMIN },
  { adapter: CFN, command: "CreateStackCommand", grants: [], note: ADMIN },
  { adapter: CFN, command: "UpdateStackCommand", grants: [], note: ADMIN },
  { adapter: CFN, command: "DeleteStackCommand", grants: [], note: ADMIN },
  { adapter: IAM, command: "GetCallerIdentityCommand", grants: [], note: "sts:GetCallerIdentity needs no permission" },
  {
    adapter: IAM,
    command: "GetRoleCommand",
    grants: [],
    note: "reductio aws check: optional, to find an assumed role's path",
  },
  {
    adapter: IAM,
    command: "SimulatePrincipalPolicyCommand",
    grants: [],
    note: "reductio aws check: optional; without it the check probes with harmless calls",
  },
]

/** An IAM policy statement. */
export interface PolicyStatement {
  readonly Sid: HostStatementId
  readonly Effect: "Allow"
  readonly Action: readonly string[]
  readonly Resource: readonly string[]
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string>>>>
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version: "2012-10-17"
  readonly Statement: readonly PolicyStatement[]
}

/**
 * The host policy: one statement per {@link HOST_STATEMENTS} entry that some call needs, with the
 * sorted union of its actions.
 *
 * @example
 * const document = hostPolicy()
 * document.Statement.find((s) => s.Sid === "BatchSubmit")?.Action // ["batch:SubmitJob"]
 */
export function hostPolicy(calls: readonly HostCall[] = HOST_CALLS): PolicyDocument {
  const actions = new Map<HostStatementId, Set<string>>()
  for (const call of calls) {
    for (const { statement, actions: needed } of call.grants) {
      const set = actions.get(statement) ?? new Set<string>()
      for (const action of needed) set.add(action)
      actions.set(statement, set)
    }
  }
  const statements: PolicyStatement[] = []
  for (const sid of HOST_STATEMENTS) {
    const granted = actions.get(sid)
    if (granted === undefined || granted.size === 0) continue
    const scope = STATEMENT_SCOPES[sid]
    statements.push({
      Sid: sid,
      Effect: "Allow",
      Action: [...granted].sort(),
      Resource: [...scope.resources],
      ...(scope.condition === undefined ? {} : { Condition: scope.condition }),
    })
  }
  return { Version: "2012-10-17", Statement: statements }
}

/** The values of a deployed stack that the policy's `${...}` placeholders name. */
export type PolicyValues = Readonly<Record<string, string>>

/**
 * Replaces every `${Name}` of a policy string with `values[Name]`, leaving unknown names as they are.
 *
 * @example
 * resolvePolicyString("arn:${AWS::Partition}:s3:::${ScratchBucket}", { "AWS::Partition": "aws", ScratchBucket: "b" })
 */
export function resolvePolicyString(text: string, values: PolicyValues): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => values[name] ?? whole)
}

/** The markers around the generated policy document in the template. */
export const TEMPLATE_MARKERS = {
  begin: "# BEGIN host policy (generated by `npm run host-policy` from runtime/setup/host-policy.ts)",
  end: "# END host policy",
} as const

/**
 * The policy document as the template's YAML, indented by `indent` spaces: strings holding
 * `${...}` become `!Sub` strings.
 */
export function policyYaml(document: PolicyDocument, indent: number): string {
  const pad = " ".repeat(indent)
  const scalar = (text: string) => (text.includes("${") ? `!Sub ${JSON.stringify(text)}` : JSON.stringify(text))
  const lines = [`Version: ${JSON.stringify(document.Version)}`, "Statement:"]
  for (const statement of document.Statement) {
    lines.push(`  - Sid: ${statement.Sid}`, `    Effect: ${statement.Effect}`, "    Action:")
    for (const action of statement.Action) lines.push(`      - ${scalar(action)}`)
    lines.push("    Resource:")
    for (const resource of statement.Resource) lines.push(`      - ${scalar(resource)}`)
    if (statement.Condition !== undefined) {
      lines.push("    Condition:")
      for (const [operator, entries] of Object.entries(statement.Condition)) {
        lines.push(`      ${operator}:`)
        for (const [key, value] of Object.entries(entries)) lines.push(`        ${JSON.stringify(key)}: ${scalar(value)}`)
      }
    }
  }
  return lines.map((line) => pad + line).join("\n")
}

/**
 * The template text with the generated section replaced by `document`; the template unchanged
 * when it already holds it. INVALID_ARGUMENT when the markers are missing.
 */
export function withPolicySection(template: string, document: PolicyDocument): string {
  const begin = template.indexOf(TEMPLATE_MARKERS.begin)
  const end = template.indexOf(TEMPLATE_MARKERS.end)
  if (begin < 0 || end < begin) throw new ReductioError("INVALID_ARGUMENT", "the template has no generated host policy section")
  const lineStart = template.lastIndexOf("\n", begin) + 1
  const indent = begin - lineStart
  return `${template.slice(0, begin + TEMPLATE_MARKERS.begin.length)}\n${policyYaml(document, indent)}\n${" ".repeat(indent)}${template.slice(end)}`
}
