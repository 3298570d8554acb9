/**
 * @module check-clients
 * The adapters `reductio aws check` talks through, created for one region: CloudFormation, IAM
 * and STS, Batch, ECR and the scratch storage (each loaded only here, by dynamic import).
 */
import type { CheckClients } from "./setup-check.js"

/** The check's clients plus a way to release them. */
export type ClosableCheckClients = CheckClients & { destroy(): void }

/**
 * @example
 * const clients = await createCheckClients("eu-west-1")
 * try { await checkSetup(clients, { stack: "reductio", imageTag: "0.1.0" }) } finally { clients.destroy() }
 */
export async function createCheckClients(region: string | undefined): Promise<ClosableCheckClients> {
  const [{ createCloudFormationApi }, { createIdentityApi }, { createBatchApi, createBatchInventory }, { EcrRegistry }, storage] =
    await Promise.all([
      import("./cloudformation-client.js"),
      import("./iam-client.js"),
      import("../executor/batch/batch-client.js"),
      import("../image/ecr-registry.js"),
      import("../storage/storage-registry.js"),
    ])
  const cloudformation = createCloudFormationApi({ region })
  const identity = createIdentityApi({ region })
  const closers: (() => void)[] = [() => cloudformation.destroy(), () => identity.destroy()]
  let inventory = createBatchInventory({ region })
  closers.push(() => inventory.destroy())
  return {
    cloudformation,
    identity,
    get inventory() {
      return inventory
    },
    async probes(settings) {
      const stackRegion = region ?? settings?.executor.region
      if (stackRegion !== undefined && stackRegion !== region) {
        inventory.destroy()
        inventory = createBatchInventory({ region: stackRegion })
      }
      if (stackRegion !== undefined) storage.configureS3({ region: stackRegion })
      // One try per probe: a refusal is the answer, and retrying it only slows the check down.
      const batch = createBatchApi({ region: stackRegion, maxAttempts: 2, baseBackoffMs: 200 })
      const ecr = new EcrRegistry({ region: stackRegion })
      closers.push(
        () => batch.destroy(),
        () => ecr.close(),
      )
      if (settings === undefined) return { batch, ecr }
      return { batch, ecr, scratch: { storage: await storage.storageFor(settings.executor.scratch), root: settings.executor.scratch } }
    },
    destroy() {
      for (const close of closers) close()
    },
  }
}
