/**
 * @module ecr-registry
 * Amazon ECR for agent images: the only file that touches `@aws-sdk/client-ecr`. Logs the docker
 * CLI in (GetAuthorizationToken), creates the repository when asked, and resolves a tag to its
 * immutable digest (DescribeImages), which is what job definitions should name.
 */
import {
  BatchDeleteImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  type ECRClientConfig,
  GetAuthorizationTokenCommand,
  type ImageIdentifier,
  ListImagesCommand,
} from "@aws-sdk/client-ecr"
import { ReductioError } from "../errors.js"

/** How to reach ECR; everything is optional (the SDK's environment and credential chain fill in). */
export interface EcrOptions {
  readonly region?: string | undefined
  /** An ECR-compatible endpoint (an emulator), e.g. `http://127.0.0.1:5000`. */
  readonly endpoint?: string | undefined
  readonly credentials?:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined }
    | undefined
}

/** Credentials for `docker login`. */
export interface RegistryLogin {
  /** The registry host, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`. */
  readonly registry: string
  readonly username: string
  readonly password: string
  /** When to ask for a new token. */
  readonly renewAt: Date
}

/** ECR tokens last 12 hours; renew a little early. */
const TOKEN_MARGIN_MS = 15 * 60 * 1000
/** Used when the token's expiry is missing or already past (moto's is in 2015): never loop on it. */
const FALLBACK_LIFETIME_MS = 60 * 60 * 1000

/**
 * @example
 * const ecr = new EcrRegistry({ region: "us-east-1" })
 * const digest = await ecr.resolveDigest("reductio-agent", "0.1.0") // "sha256:…"
 */
export class EcrRegistry {
  readonly #client: ECRClient
  #login: RegistryLogin | undefined

  constructor(options: EcrOptions = {}, client?: ECRClient) {
    const config: ECRClientConfig = {}
    if (options.region !== undefined) config.region = options.region
    if (options.endpoint !== undefined) config.endpoint = options.endpoint
    if (options.credentials !== undefined) config.credentials = options.credentials
    // The SDK warns once per process about Node 20's support window; that is not the user's concern.
    process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true"
    this.#client = client ?? new ECRClient(config)
  }

  /** Registry credentials, cached until shortly before the token expires. */
  async login(now = new Date()): Promise<RegistryLogin> {
    if (this.#login !== undefined && this.#login.renewAt > now) return this.#login
    const response = await this.#client.send(new GetAuthorizationTokenCommand({})).catch((error: unknown) => {
      throw serviceError("GetAuthorizationToken", error)
    })
    const data = response.authorizationData?.[0]
    if (data?.authorizationToken === undefined || data.proxyEndpoint === undefined) {
      throw new ReductioError("SERVICE_ERROR", "ECR returned no authorization token")
    }
    const decoded = Buffer.from(data.authorizationToken, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    if (colon < 0) throw new ReductioError("SERVICE_ERROR", "ECR returned a malformed authorization token")
    const expires = data.expiresAt?.getTime()
    const renewAt =
      expires !== undefined && expires - TOKEN_MARGIN_MS > now.getTime() ? expires - TOKEN_MARGIN_MS : now.getTime() + FALLBACK_LIFETIME_MS
    this.#login = {
      registry: data.proxyEndpoint.replace(/^https?:\/\//, "").replace(/\/+$/, ""),
      username: decoded.slice(0, colon),
      password: decoded.slice(colon + 1),
      renewAt: new Date(renewAt),
    }
    return this.#login
  }

  /** The repository's URI (`<registry>/<name>`), creating the repository when `create` and missing. */
  async repositoryUri(name: string, options: { create?: boolean } = {}): Promise<string> {
    try {
      const found = await this.#client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }))
      const uri = found.repositories?.[0]?.repositoryUri
      if (uri !== undefined) return uri
    } catch (error) {
      if ((error as { name?: string }).name !== "RepositoryNotFoundException") throw serviceError("DescribeRepositories", error)
      if (options.create !== true)
        throw new ReductioError("NOT_FOUND", `no ECR repository named ${name} (pass --create to create it)`, { cause: error })
    }
    const created = await this.#client
      .send(new CreateRepositoryCommand({ repositoryName: name, imageTagMutability: "MUTABLE" }))
      .catch((error: unknown) => {
        throw serviceError("CreateRepository", error)
      })
    const uri = created.repository?.repositoryUri
    if (uri === undefined) throw new ReductioError("SERVICE_ERROR", `ECR created repository ${name} but returned no URI`)
    return uri
  }

  /** The digest (`sha256:…`) a tag points to now. NOT_FOUND for a missing repository or tag. */
  async resolveDigest(repository: string, tag: string): Promise<string> {
    try {
      const response = await this.#client.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageTag: tag }] }))
      const digest = response.imageDetails?.[0]?.imageDigest
      if (digest === undefined) throw new ReductioError("NOT_FOUND", `no image ${repository}:${tag} in ECR`)
      return digest
    } catch (error) {
      const name = (error as { name?: string }).name
      if (name === "ImageNotFoundException" || name === "RepositoryNotFoundException") {
        throw new ReductioError("NOT_FOUND", `no image ${repository}:${tag} in ECR`, { cause: error, details: { repository, tag } })
      }
      throw error instanceof ReductioError ? error : serviceError("DescribeImages", error)
    }
  }

  /** Every image of a repository (digest, tag), page by page; NOT_FOUND when the repository is missing. */
  async listImages(repository: string): Promise<ImageIdentifier[]> {
    const images: ImageIdentifier[] = []
    let nextToken: string | undefined
    do {
      const page = await this.#client
        .send(new ListImagesCommand({ repositoryName: repository, maxResults: 1000, nextToken }))
        .catch((error: unknown) => {
          if ((error as { name?: string }).name === "RepositoryNotFoundException") {
            throw new ReductioError("NOT_FOUND", `no ECR repository named ${repository}`, { cause: error, details: { repository } })
          }
          throw serviceError("ListImages", error)
        })
      images.push(...(page.imageIds ?? []))
      nextToken = page.nextToken
    } while (nextToken !== undefined)
    return images
  }

  /** Deletes images of a repository, 100 per call (BatchDeleteImage's limit). */
  async deleteImages(repository: string, images: readonly ImageIdentifier[]): Promise<void> {
    // Deleting a digest deletes all of its tags.
    const byDigest = new Map(
      images.map((image) => [
        image.imageDigest ?? image.imageTag,
        image.imageDigest === undefined ? image : { imageDigest: image.imageDigest },
      ]),
    )
    const unique = [...byDigest.values()]
    for (let i = 0; i < unique.length; i += 100) {
      const imageIds = unique.slice(i, i + 100)
      const response = await this.#client
        .send(new BatchDeleteImageCommand({ repositoryName: repository, imageIds }))
        .catch((error: unknown) => {
          throw serviceError("BatchDeleteImage", error)
        })
      const failure = response.failures?.find((f) => f.failureCode !== "ImageNotFound")
      if (failure !== undefined) {
        throw new ReductioError("SERVICE_ERROR", `ECR BatchDeleteImage failed: ${failure.failureCode}: ${failure.failureReason}`, {
          details: { repository },
        })
      }
    }
  }

  /** Releases the client's sockets. */
  close(): void {
    this.#client.destroy()
  }
}

function serviceError(operation: string, error: unknown): ReductioError {
  const name = (error as { name?: string }).name ?? "Error"
  const code = name === "AccessDeniedException" || name === "UnrecognizedClientException" ? "PERMISSION_DENIED" : "SERVICE_ERROR"
  return new ReductioError(code, `ECR ${operation} failed: ${name}: ${(error as Error).message}`, { cause: error })
}
