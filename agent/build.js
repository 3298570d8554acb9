// `npm run build` (scripts/build.js) imports this file: builds agent/dist/agent.js.
import { buildAgent } from "./build-agent.js"

await buildAgent()
