import assert from "node:assert/strict"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { loadConfig } from "../../../runtime/config/load-config.js"
import { isReductioError } from "../../../runtime/errors.js"
import { type TempProject, tempProject } from "../../support/project.js"

describe("loadConfig and the REDUCTIO_* variables", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject("reductio-config-")
    await project.write(
      "reductio.config.mjs",
      'export default { database: "from-file.db", defaultExecutor: "process", limits: { db: 2 } }\n',
    )
  })
  after(() => project.remove())

  it("takes an empty REDUCTIO_CONFIG, REDUCTIO_DB or REDUCTIO_EXECUTOR as unset", async () => {
    const loaded = await loadConfig(project.dir, { REDUCTIO_CONFIG: "", REDUCTIO_DB: "", REDUCTIO_EXECUTOR: "" })
    assert.equal(loaded.path, join(project.dir, "reductio.config.mjs"))
    assert.equal(loaded.database, join(project.dir, "from-file.db"))
    assert.equal(loaded.config.defaultExecutor, "process")
    assert.deepEqual(loaded.config.limits, { db: 2 })
  })

  it("lets non-empty variables override the file, and refuses a REDUCTIO_CONFIG naming no file", async () => {
    const loaded = await loadConfig(project.dir, { REDUCTIO_DB: "memory", REDUCTIO_EXECUTOR: "local" })
    assert.equal(loaded.database, "memory")
    assert.equal(loaded.config.defaultExecutor, "local")
    await assert.rejects(loadConfig(project.dir, { REDUCTIO_CONFIG: "missing.config.mjs" }), (error: unknown) =>
      isReductioError(error, "CONFIG_INVALID"),
    )
  })
})
