// `npm run build` (scripts/build.js) imports this file: builds agent/dist/agent.js and the
// partition mapper that Glue's Spark path runs (agent/dist/partition-mapper.js).
import { buildAgent } from "./build-agent.js"

const root = new URL("..", import.meta.url).pathname
await buildAgent()
await buildAgent(`${root}agent/dist/partition-mapper.js`, `${root}agent/partition-mapper.ts`)
