/**
 * @module stack-contents
 * The {@link StackContents} of a real stack: its scratch bucket through reductio's S3 storage and
 * its image repository through the ECR adapter. A bucket or repository that is already gone
 * counts as empty.
 */
import { isReductioError } from "../errors.js"
import type { EcrOptions } from "../image/ecr-registry.js"
import { storageFor } from "../storage/storage-registry.js"
import type { StackContents } from "./stack-teardown.js"

/** Objects deleted at once while emptying a bucket. */
const DELETE_CONCURRENCY = 16

/**
 * @example
 * const contents = stackContents({ region: "eu-west-1" })
 * await contents.emptyBucket("my-scratch-bucket")
 */
export function stackContents(ecrOptions: EcrOptions): StackContents {
  const registry = async () => {
    const { EcrRegistry } = await import("../image/ecr-registry.js")
    return new EcrRegistry(ecrOptions)
  }
  return {
    async listObjects(bucket, limit) {
      const keys: string[] = []
      await eachObject(bucket, async (uri) => {
        keys.push(uri)
        return keys.length < limit
      })
      return keys
    },
    async emptyBucket(bucket) {
      const storage = await storageFor(`s3://${bucket}/`)
      let deleted = 0
      const running = new Set<Promise<void>>()
      await eachObject(bucket, async (uri) => {
        const deletion = storage.delete(uri).then(() => {
          deleted++
          running.delete(deletion)
        })
        running.add(deletion)
        if (running.size >= DELETE_CONCURRENCY) await Promise.race(running)
        return true
      })
      await Promise.all(running)
      return deleted
    },
    async countImages(repository) {
      const ecr = await registry()
      try {
        return (await ecr.listImages(repository)).length
      } catch (error) {
        if (isReductioError(error, "NOT_FOUND")) return 0
        throw error
      } finally {
        ecr.close()
      }
    },
    async emptyRepository(repository) {
      const ecr = await registry()
      try {
        const images = await ecr.listImages(repository)
        await ecr.deleteImages(repository, images)
        return images.length
      } catch (error) {
        if (isReductioError(error, "NOT_FOUND")) return 0
        throw error
      } finally {
        ecr.close()
      }
    },
  }
}

/** Calls `visit` with each object's URI until it returns false; a missing bucket has none. */
async function eachObject(bucket: string, visit: (uri: string) => Promise<boolean>): Promise<void> {
  const storage = await storageFor(`s3://${bucket}/`)
  try {
    for await (const entry of storage.list(`s3://${bucket}/`)) if (!(await visit(entry.uri))) return
  } catch (error) {
    if (isReductioError(error) && error.details?.["s3Code"] === "NoSuchBucket") return
    throw error
  }
}
