/**
 * @module stack-template
 * The CloudFormation template reductio ships (`aws/reductio-batch.yaml`), its parameter names, and
 * the checking of `--parameter KEY=VALUE` arguments against them. The template is sent to
 * CloudFormation as it is; only its `Parameters:` block is read here (a test checks that this
 * reading agrees with a YAML parser's).
 */
import { readFileSync } from "node:fs"
import { ReductioError } from "../errors.js"
import { packageFile } from "../package-root.js"

/** Where the template is in the package. */
export const TEMPLATE_PATH = ["aws", "reductio-batch.yaml"] as const

/** CloudFormation's limit on a TemplateBody sent inline, in bytes. */
export const TEMPLATE_BODY_LIMIT = 51_200

/** The shipped template's text. */
export function templateBody(): string {
  return readFileSync(packageFile(TEMPLATE_PATH, "reinstall reductio-workflow"), "utf8")
}

/**
 * The parameters a template declares, in order, with their defaults (undefined: none): the keys
 * indented by two spaces under the top-level `Parameters:` key and their `Default:` lines.
 *
 * @example
 * templateParameters(templateBody()) // { VpcId: "", SubnetIds: "", VpcCidr: "10.42.0.0/16", ... }
 */
export function templateParameters(template: string): Record<string, string | undefined> {
  const parameters: Record<string, string | undefined> = {}
  let inParameters = false
  let current: string | undefined
  for (const line of template.split(/\r?\n/)) {
    if (/^\S/.test(line)) inParameters = /^Parameters:\s*$/.test(line)
    if (!inParameters) continue
    const name = /^ {2}([A-Za-z0-9]+):\s*$/.exec(line)
    if (name !== null) {
      current = name[1] as string
      parameters[current] = undefined
      continue
    }
    const fallback = /^ {4}Default:\s*(.*?)\s*$/.exec(line)
    if (fallback !== null && current !== undefined) parameters[current] = unquote(fallback[1] as string)
  }
  return parameters
}

function unquote(scalar: string): string {
  if (scalar.startsWith('"') && scalar.endsWith('"')) return JSON.parse(scalar) as string
  if (scalar.startsWith("'") && scalar.endsWith("'")) return scalar.slice(1, -1).replaceAll("''", "'")
  return scalar
}

/** CloudFormation's limit on one parameter value, in bytes. */
const VALUE_LIMIT = 4096

/**
 * Parses `KEY=VALUE` arguments into parameters of `template`; INVALID_ARGUMENT for a malformed
 * one, an unknown or repeated key, or a value that is too long or holds control characters.
 *
 * @example
 * parseParameters(["SpotMaxVcpus=64"], Object.keys(templateParameters(templateBody()))) // { SpotMaxVcpus: "64" }
 */
export function parseParameters(args: readonly string[], known: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {}
  for (const arg of args) {
    const equals = arg.indexOf("=")
    const key = equals < 0 ? arg : arg.slice(0, equals)
    if (equals <= 0) throw invalid(`--parameter ${JSON.stringify(arg)} is not KEY=VALUE`, key)
    const value = arg.slice(equals + 1)
    if (!known.includes(key)) throw invalid(`--parameter ${key}: the template has no such parameter; it has ${known.join(", ")}`, key)
    if (key in parameters) throw invalid(`--parameter ${key} is given twice`, key)
    if (Buffer.byteLength(value) > VALUE_LIMIT) throw invalid(`--parameter ${key}: the value is longer than ${VALUE_LIMIT} bytes`, key)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
    if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(`--parameter ${key}: the value holds control characters`, key)
    parameters[key] = value
  }
  return parameters
}

/** A stack name CloudFormation accepts and the template can derive queue names from. */
export function checkStackName(name: string): string {
  // The template names the job queues `<stack>-spot` and `<stack>-fargate`; Batch allows 128 characters.
  if (!/^[A-Za-z][A-Za-z0-9-]{0,119}$/.test(name)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `--stack ${JSON.stringify(name)}: a stack name starts with a letter and holds up to 120 letters, digits and hyphens`,
      { details: { stack: name } },
    )
  }
  return name
}

function invalid(message: string, parameter: string): ReductioError {
  return new ReductioError("INVALID_ARGUMENT", message, { details: { parameter } })
}
