import assert from "node:assert/strict"
import { describe, it } from "node:test"
import * as reductio from "reductio"

describe("the package root", () => {
  it("exports exactly the public API", () => {
    assert.deepEqual(Object.keys(reductio).sort(), [
      "Dir",
      "ERROR_CODES",
      "File",
      "LocalExecutor",
      "MemoryBackend",
      "ReductioError",
      "Scheduler",
      "ShardedDataset",
      "StagingFile",
      "TaskError",
      "catchError",
      "compose",
      "cond",
      "constant",
      "createExecutors",
      "defineConfig",
      "delay",
      "evaluate",
      "flatMap",
      "flatten",
      "force",
      "genericTask",
      "getContext",
      "isLazy",
      "isReductioError",
      "isShardedDataset",
      "isTask",
      "isTaskError",
      "map",
      "newExecutionId",
      "openBackend",
      "partitionTask",
      "registerCodec",
      "run",
      "script",
      "seq",
      "starmap",
      "stdout",
      "task",
      "throwError",
      "zip",
    ])
  })
})
