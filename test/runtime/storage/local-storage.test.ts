import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, sep } from "node:path"
import { LocalStorage } from "../../../runtime/storage/local-storage.js"
import { storageConformance } from "./storage-conformance.js"

storageConformance("LocalStorage", async () => {
  const root = await mkdtemp(join(tmpdir(), "reductio-local-storage-"))
  return {
    storage: new LocalStorage(),
    root: root + sep,
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})
