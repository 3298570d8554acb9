/**
 * @module moto-secrets
 * Secrets Manager and SSM Parameter Store on moto, through their JSON protocol (moto checks no
 * signature; the credential scope of the Authorization header picks the region): what the test
 * Batch endpoint resolves a job definition's `secrets` against, as Batch does when a container starts.
 */
import type { Moto } from "./moto.js"

async function awsJson(moto: Moto, service: "secretsmanager" | "ssm", target: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${moto.endpoint}/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": target,
      authorization: `AWS4-HMAC-SHA256 Credential=${moto.credentials.accessKeyId}/20240101/${moto.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  })
  const answer = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`${target}: HTTP ${response.status} ${JSON.stringify(answer)}`)
  return answer
}

/** Creates a Secrets Manager secret; resolves to its ARN. */
export async function createSecret(moto: Moto, name: string, value: string): Promise<string> {
  const created = await awsJson(moto, "secretsmanager", "secretsmanager.CreateSecret", { Name: name, SecretString: value })
  return created.ARN as string
}

/** Puts an SSM SecureString parameter; resolves to its ARN. */
export async function putParameter(moto: Moto, name: string, value: string): Promise<string> {
  await awsJson(moto, "ssm", "AmazonSSM.PutParameter", { Name: name, Value: value, Type: "SecureString", Overwrite: true })
  const found = await awsJson(moto, "ssm", "AmazonSSM.GetParameter", { Name: name })
  return (found.Parameter as { ARN: string }).ARN
}

/** A secret's value by what a job definition's `valueFrom` holds: a Secrets Manager ARN, or an SSM parameter ARN or name. */
export async function resolveSecret(moto: Moto, valueFrom: string): Promise<string> {
  if (valueFrom.includes(":secretsmanager:")) {
    const found = await awsJson(moto, "secretsmanager", "secretsmanager.GetSecretValue", { SecretId: valueFrom })
    return found.SecretString as string
  }
  const found = await awsJson(moto, "ssm", "AmazonSSM.GetParameter", { Name: valueFrom, WithDecryption: true })
  return (found.Parameter as { Value: string }).Value
}
