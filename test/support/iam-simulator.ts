/**
 * @module iam-simulator
 * IAM's policy simulator for tests: moto does not implement SimulatePrincipalPolicy, so this
 * HTTP server answers it (IAM's query protocol, XML) with the decisions of a function and passes
 * every other IAM call through to moto. Point the SDK at it with AWS_ENDPOINT_URL_IAM.
 *
 * @example
 * const iam = await startIamSimulator(moto.endpoint, (action) => (action === "batch:SubmitJob" ? "implicitDeny" : "allowed"))
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** A decision for one action on one resource. */
export type Decide = (action: string, resource: string) => "allowed" | "implicitDeny" | "explicitDeny"

/** A running simulator. */
export interface IamSimulator {
  readonly endpoint: string
  /** Every simulation asked: the principal, actions, resources and context keys. */
  readonly requests: { principal: string; actions: string[]; resources: string[]; context: Record<string, string> }[]
  stop(): Promise<void>
}

/** Starts the simulator on a free port in front of moto at `motoEndpoint`. */
export async function startIamSimulator(motoEndpoint: string, decide: Decide): Promise<IamSimulator> {
  const requests: IamSimulator["requests"] = []
  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { "content-type": "text/plain" })
      response.end(String(error))
    })
  })
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString("utf8")
    const form = new URLSearchParams(body)
    if (form.get("Action") !== "SimulatePrincipalPolicy") return proxy(motoEndpoint, request, body, response)
    const members = (prefix: string) =>
      [...form.entries()].filter(([key]) => new RegExp(`^${prefix}\\.member\\.\\d+$`).test(key)).map(([, v]) => v)
    const actions = members("ActionNames")
    const resources = members("ResourceArns")
    const context: Record<string, string> = {}
    for (const [key, name] of form.entries()) {
      const match = /^ContextEntries\.member\.(\d+)\.ContextKeyName$/.exec(key)
      if (match !== null) context[name] = form.get(`ContextEntries.member.${match[1]}.ContextKeyValues.member.1`) ?? ""
    }
    requests.push({ principal: form.get("PolicySourceArn") ?? "", actions, resources, context })
    const results = actions.map((action) => evaluation(action, resources, decide)).join("")
    const xml = `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>${results}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>simulated</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>`
    response.writeHead(200, { "content-type": "text/xml" })
    response.end(xml)
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** One action's result, with a decision per resource as IAM gives it for several resources. */
function evaluation(action: string, resources: readonly string[], decide: Decide): string {
  const decisions = resources.map((resource) => decide(action, resource))
  const overall = decisions.every((d) => d === "allowed") ? "allowed" : decisions.includes("explicitDeny") ? "explicitDeny" : "implicitDeny"
  const specific = resources
    .map(
      (resource, i) =>
        `<member><EvalResourceName>${escapeXml(resource)}</EvalResourceName><EvalResourceDecision>${decisions[i]}</EvalResourceDecision></member>`,
    )
    .join("")
  return `<member><EvalActionName>${escapeXml(action)}</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>${overall}</EvalDecision><ResourceSpecificResults>${specific}</ResourceSpecificResults></member>`
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
}

async function proxy(target: string, request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {}
  for (const [key, value] of Object.entries(request.headers))
    if (typeof value === "string" && key !== "host" && key !== "content-length") headers[key] = value
  const answer = await fetch(`${target}${request.url ?? "/"}`, {
    method: request.method,
    headers,
    body: request.method === "GET" ? undefined : body,
  })
  const text = Buffer.from(await answer.arrayBuffer())
  response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/xml" })
  response.end(text)
}
