/**
 * @module iam-client
 * The only file of reductio that touches `@aws-sdk/client-iam` and `@aws-sdk/client-sts`: who the
 * caller is, and IAM's policy simulator, for `reductio aws check`. Load it with a dynamic import.
 */
import { GetRoleCommand, IAMClient, type IAMClientConfig, SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam"
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts"
import { ReductioError } from "../errors.js"

/** The caller, as STS names it and as IAM's simulator takes it. */
export interface CallerIdentity {
  readonly account: string
  /** `arn:aws:iam::…:user/x`, or `arn:aws:sts::…:assumed-role/Role/session`. */
  readonly arn: string
  /** The IAM user or role behind the caller (an assumed role's role, with its path when readable). */
  readonly principal: string
}

/** One action on one resource, as the simulator decided it. */
export interface SimulatedDecision {
  readonly action: string
  readonly resource: string
  /** `allowed`, `implicitDeny` or `explicitDeny`. */
  readonly decision: string
}

/** The IAM and STS calls of `reductio aws check`. */
export interface IdentityApi {
  caller(): Promise<CallerIdentity>
  /** The simulator's decisions for `actions` on `resources`; SERVICE_ERROR when it cannot be used. */
  simulate(
    principal: string,
    actions: readonly string[],
    resources: readonly string[],
    context: Readonly<Record<string, string>>,
  ): Promise<SimulatedDecision[]>
  destroy(): void
}

/** How to reach IAM and STS. */
export interface IdentityOptions {
  readonly region?: string | undefined
  readonly credentials?: IAMClientConfig["credentials"]
}

const ASSUMED_ROLE = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\/.+$/

/**
 * @example
 * const identity = createIdentityApi({ region: "eu-west-1" })
 * const { principal } = await identity.caller()
 */
export function createIdentityApi(options: IdentityOptions = {}): IdentityApi {
  process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
  const config = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  }
  const sts = new STSClient(config)
  const iam = new IAMClient(config)
  return {
    async caller() {
      const identity = await sts.send(new GetCallerIdentityCommand({})).catch((error: unknown) => {
        throw new ReductioError("SERVICE_ERROR", `STS GetCallerIdentity failed (are AWS credentials set?): ${describe(error)}`, {
          cause: error,
        })
      })
      const arn = identity.Arn ?? ""
      const match = ASSUMED_ROLE.exec(arn)
      if (match === null) return { account: identity.Account ?? "", arn, principal: arn }
      const [, partition, account, roleName] = match as unknown as [string, string, string, string]
      // The role's ARN may hold a path that the assumed-role ARN leaves out.
      const role = await iam.send(new GetRoleCommand({ RoleName: roleName })).catch(() => undefined)
      return { account, arn, principal: role?.Role?.Arn ?? `arn:${partition}:iam::${account}:role/${roleName}` }
    },
    async simulate(principal, actions, resources, context) {
      const decisions: SimulatedDecision[] = []
      let marker: string | undefined
      do {
        const page = await iam
          .send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: principal,
              ActionNames: [...actions],
              ResourceArns: [...resources],
              ContextEntries: Object.entries(context).map(([ContextKeyName, value]) => ({
                ContextKeyName,
                ContextKeyType: "string",
                ContextKeyValues: [value],
              })),
              Marker: marker,
            }),
          )
          .catch((error: unknown) => {
            throw new ReductioError("SERVICE_ERROR", `IAM SimulatePrincipalPolicy failed: ${describe(error)}`, { cause: error })
          })
        for (const result of page.EvaluationResults ?? []) {
          const perResource = result.ResourceSpecificResults ?? []
          if (perResource.length === 0) {
            decisions.push({
              action: result.EvalActionName ?? "",
              resource: result.EvalResourceName ?? "*",
              decision: result.EvalDecision ?? "",
            })
          }
          for (const specific of perResource) {
            decisions.push({
              action: result.EvalActionName ?? "",
              resource: specific.EvalResourceName ?? "",
              decision: specific.EvalResourceDecision ?? "",
            })
          }
        }
        marker = page.IsTruncated === true ? page.Marker : undefined
      } while (marker !== undefined)
      return decisions
    },
    destroy() {
      sts.destroy()
      iam.destroy()
    },
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error)
}
