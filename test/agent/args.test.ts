import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { parseAgentArgs } from "../../agent/args.js"
import { DEFAULT_ARCHIVE_LIMITS } from "../../agent/extract.js"
import { isReductioError } from "../../runtime/errors.js"

const base = ["--code", "c", "--input", "i", "--scratch", "s"]

describe("the agent's arguments", () => {
  it("take flags, then variables, then defaults", () => {
    const args = parseAgentArgs(["--code=c", "--input", "i", "--max-entry-bytes", "1000"], {
      REDUCTIO_SCRATCH: "s",
      REDUCTIO_WORKDIR: "/w",
      REDUCTIO_MAX_BUNDLE_BYTES: "5000",
      AWS_BATCH_JOB_ARRAY_INDEX: "7",
    })
    assert.deepEqual(args, {
      code: "c",
      input: "i",
      scratch: "s",
      index: 7,
      workdir: "/w",
      limits: { maxBytes: 5000, maxEntries: DEFAULT_ARCHIVE_LIMITS.maxEntries, maxEntryBytes: 1000 },
    })
  })

  it("leave the work directory to the private default when none is given", () => {
    assert.equal(parseAgentArgs(base, { REDUCTIO_WORKDIR: "" }).workdir, undefined)
  })

  const refused: [string, string[], NodeJS.ProcessEnv][] = [
    ["a negative index", [...base, "--index", "-1"], {}],
    ["a fractional index", [...base, "--index", "1.5"], {}],
    ["an index in exponent form", base, { JOB_COMPLETION_INDEX: "1e3" }],
    ["an index of ten digits", [...base, "--index", "1234567890"], {}],
    ["a flag given twice", [...base, "--code", "d"], {}],
    ["an empty flag value", [...base, "--workdir="], {}],
    ["a missing value", [...base, "--index"], {}],
    ["an unknown flag", [...base, "--verbose", "1"], {}],
    ["a zero limit", [...base, "--max-bundle-entries", "0"], {}],
    ["a limit past 2^53", [...base, "--max-bundle-bytes", "99999999999999999"], {}],
    ["a limit with a unit", base, { REDUCTIO_MAX_ENTRY_BYTES: "10MB" }],
    ["no scratch", ["--code", "c", "--input", "i"], {}],
  ]
  for (const [what, argv, env] of refused) {
    it(`refuse ${what} (INVALID_ARGUMENT)`, () => {
      assert.throws(
        () => parseAgentArgs(argv, env),
        (error) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    })
  }
})
