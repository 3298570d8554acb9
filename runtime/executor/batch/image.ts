/**
 * @module image
 * Pins an ECR image tag to its digest before it goes into a job definition: a tag can move, a
 * digest cannot, so the definition (named by its content) then names exactly the image that ran,
 * and pushing a new image under the same tag makes a new definition instead of silently changing
 * an old one. Images outside ECR, and images already named by digest, are used as given.
 */
import { toErrorRecord } from "../../errors.js"
import type { EcrOptions } from "../../image/ecr-registry.js"

const ECR_IMAGE = /^(\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)\/([^:@]+):([^:@/]+)$/

/** `registry/repository@sha256:…` for an ECR `registry/repository:tag`; anything else unchanged. */
export async function pinImage(image: string, options: EcrOptions, log: (message: string) => void): Promise<string> {
  const match = ECR_IMAGE.exec(image)
  if (match === null) return image
  const [, registry, region, repository, tag] = match as unknown as [string, string, string, string, string]
  try {
    const { EcrRegistry } = await import("../../image/ecr-registry.js")
    const digest = await new EcrRegistry({ region, ...options }).resolveDigest(repository, tag)
    const pinned = `${registry}/${repository}@${digest}`
    log(`image ${image} is ${pinned}`)
    return pinned
  } catch (error) {
    log(`cannot resolve ${image} to a digest, using the tag: ${toErrorRecord(error).message}`)
    return image
  }
}
