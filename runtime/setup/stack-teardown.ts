/**
 * @module stack-teardown
 * Deletes reductio's stack. CloudFormation cannot delete a bucket that holds objects or a
 * repository that holds images, and both may hold work someone wants: without `force` a
 * non-empty bucket or repository is STACK_NOT_EMPTY (nothing is deleted); with it they are
 * emptied first.
 */
import { ReductioError } from "../errors.js"
import type { CloudFormationApi } from "./cloudformation-client.js"
import { type WaitOptions, waitForStack } from "./stack-wait.js"

/** The stores of a stack that must be empty before CloudFormation can delete it. */
export interface StackContents {
  /** Up to `limit` object keys of the bucket (none when the bucket is gone). */
  listObjects(bucket: string, limit: number): Promise<string[]>
  /** Deletes every object of the bucket; resolves to how many. */
  emptyBucket(bucket: string): Promise<number>
  /** How many images the repository holds (0 when it is gone). */
  countImages(repository: string): Promise<number>
  /** Deletes every image of the repository; resolves to how many. */
  emptyRepository(repository: string): Promise<number>
}

/** What a teardown removed before deleting the stack. */
export interface TeardownResult {
  readonly stack: string
  readonly objectsDeleted: number
  readonly imagesDeleted: number
}

/** Objects listed to tell a user how full the bucket is. */
const SAMPLE = 1000

/**
 * @example
 * await teardownStack(api, contents, { stack: "reductio", force: false }, { onEvent })
 */
export async function teardownStack(
  api: CloudFormationApi,
  contents: StackContents,
  request: { readonly stack: string; readonly force: boolean },
  wait: WaitOptions,
): Promise<TeardownResult> {
  const stack = await api.describeStack(request.stack)
  if (stack === undefined) {
    throw new ReductioError("STACK_NOT_FOUND", `there is no stack ${request.stack} (in this region)`, { details: { stack: request.stack } })
  }
  const bucket = stack.outputs["ScratchBucket"]
  const repository = stack.outputs["RepositoryName"]
  let objectsDeleted = 0
  let imagesDeleted = 0
  if (request.force) {
    if (bucket !== undefined) objectsDeleted = await contents.emptyBucket(bucket)
    if (repository !== undefined) imagesDeleted = await contents.emptyRepository(repository)
  } else {
    const objects = bucket === undefined ? [] : await contents.listObjects(bucket, SAMPLE)
    const images = repository === undefined ? 0 : await contents.countImages(repository)
    if (objects.length > 0 || images > 0) throw notEmpty(request.stack, { bucket, objects: objects.length, repository, images })
  }
  const after = (await api.events(stack.stackId))[0]?.eventId
  await api.deleteStack(stack.stackId)
  await waitForStack(api, stack.stackId, { ...wait, after })
  return { stack: request.stack, objectsDeleted, imagesDeleted }
}

function notEmpty(
  stack: string,
  found: { bucket: string | undefined; objects: number; repository: string | undefined; images: number },
): ReductioError {
  const parts: string[] = []
  if (found.objects > 0) parts.push(`bucket ${found.bucket} holds ${found.objects >= SAMPLE ? `${SAMPLE} or more` : found.objects} objects`)
  if (found.images > 0) parts.push(`repository ${found.repository} holds ${found.images} images`)
  return new ReductioError(
    "STACK_NOT_EMPTY",
    `${parts.join(" and ")}: pass --force to delete them with stack ${stack} (nothing was deleted)`,
    { details: { stack, ...found } },
  )
}
