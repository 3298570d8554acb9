// Writes the host policy (runtime/setup/host-policy.ts) to aws/host-policy.json and into the
// HostPolicy resource of aws/reductio-batch.yaml. A test fails while either is out of date.
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { hostPolicy, withPolicySection } from "../runtime/setup/host-policy.js"

const root = new URL("..", import.meta.url).pathname
const document = hostPolicy()
const policyPath = join(root, "aws/host-policy.json")
writeFileSync(policyPath, `${JSON.stringify(document, null, 2)}\n`)
// The formatter checked by `npm run lint` decides the JSON's layout.
spawnSync(join(root, "node_modules/.bin/biome"), ["format", "--write", policyPath], { stdio: "inherit" })
const templatePath = join(root, "aws/reductio-batch.yaml")
writeFileSync(templatePath, withPolicySection(readFileSync(templatePath, "utf8"), document))
