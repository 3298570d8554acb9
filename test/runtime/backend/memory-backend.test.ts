import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { backendConformance } from "./backend-conformance.js"

backendConformance("MemoryBackend", async () => ({ backend: new MemoryBackend(), dispose: async () => {} }))
