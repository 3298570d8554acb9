import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import type { Readable } from "node:stream"
import { describe, it } from "node:test"
import { parseServeRequest } from "../../agent/serve.js"
import { isReductioError } from "../../runtime/errors.js"
import { builtAgent, tempDir } from "./agent-harness.js"

/** Starts `agent.js --serve` in an empty directory and collects its replies (file descriptor 3). */
async function serve() {
  const child = spawn(process.execPath, [await builtAgent(), "--serve"], {
    cwd: await tempDir("reductio-serve-"),
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["pipe", "pipe", "pipe", "pipe"],
  })
  let replies = ""
  let stderr = ""
  ;(child.stdio[3] as Readable).on("data", (chunk: Buffer) => {
    replies += chunk.toString("utf8")
  })
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  const replyLines = () =>
    replies
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
  return { child, exited, replyLines, stderr: () => stderr }
}

describe("agent --serve", () => {
  it("answers a malformed request with AGENT_REQUEST_INVALID and exits 2", async () => {
    const worker = await serve()
    worker.child.stdin.write("not json\n")
    assert.equal(await worker.exited, 2)
    const [reply] = worker.replyLines()
    assert.equal((reply?.error as { code?: string })?.code, "AGENT_REQUEST_INVALID")
    assert.match(worker.stderr(), /AGENT_REQUEST_INVALID/)
  })

  it("refuses a request line longer than the bound without waiting for its end", async () => {
    const worker = await serve()
    worker.child.stdin.write(`{"id":1,"args":["${"x".repeat(80 * 1024)}`)
    assert.equal(await worker.exited, 2)
    const [reply] = worker.replyLines()
    assert.match(String((reply?.error as { message?: string })?.message), /longer than 65536 bytes/)
  })

  it("answers a job with bad flags with its exit code and keeps serving, and exits 0 at end of input", async () => {
    const worker = await serve()
    worker.child.stdin.write(`${JSON.stringify({ id: 7, args: ["--code"] })}\n`)
    worker.child.stdin.write(`${JSON.stringify({ id: 8, args: [] })}\n`)
    worker.child.stdin.end()
    assert.equal(await worker.exited, 0)
    assert.deepEqual(worker.replyLines(), [
      { id: 7, exit: 2 },
      { id: 8, exit: 2 },
    ])
    assert.match(worker.stderr(), /INVALID_ARGUMENT/)
  })

  it("checks every field of a request", () => {
    const refused = (line: string, why: RegExp) =>
      assert.throws(
        () => parseServeRequest(line),
        (error: unknown) => isReductioError(error, "AGENT_REQUEST_INVALID") && why.test(error.message),
      )
    refused("[1]", /not a JSON object/)
    refused('{"id":1}', /keys/)
    refused('{"id":1,"args":[],"env":{}}', /keys/)
    refused('{"id":-1,"args":[]}', /id/)
    refused('{"id":1.5,"args":[]}', /id/)
    refused('{"id":1,"args":"--code"}', /args/)
    refused('{"id":1,"args":[1]}', /argument/)
    refused(`{"id":1,"args":${JSON.stringify(Array(33).fill("a"))}}`, /args/)
    refused('{"id":1,"args":["a\\u0000b"]}', /NUL/)
    refused('{"id":1,"args":["--serve"]}', /--serve/)
    assert.deepEqual(parseServeRequest('{"args":["--code","c"],"id":3}'), { id: 3, args: ["--code", "c"] })
  })
})
