import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { backendConformance } from "./backend-conformance.js"
import { leaseConformance } from "./lease-conformance.js"

backendConformance("MemoryBackend", async () => ({ backend: new MemoryBackend(), dispose: async () => {} }))

leaseConformance("MemoryBackend", async () => {
  const backend = new MemoryBackend()
  return { backend, peer: async () => backend, dispose: async () => {} }
})
