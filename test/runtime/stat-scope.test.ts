import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { activeScope, rememberHash, knownHash, scopeNow, withStatScope } from "../../runtime/stat-scope.js"

describe("stat scopes", () => {
  it("shares what one running execution learnt, across its awaits, and forgets it when it ends", async () => {
    assert.equal(activeScope(), undefined)
    let inside: ReturnType<typeof activeScope>
    await withStatScope(async () => {
      rememberHash("s3://bucket/a", "h1")
      await new Promise((resolve) => setTimeout(resolve, 1))
      inside = activeScope()
      assert.equal(scopeNow(), inside)
      assert.equal(await knownHash("s3://bucket/a"), "h1")
    })
    assert.equal(inside?.open, false)
    assert.equal(inside?.hashes.size, 0)
    assert.equal(activeScope(), undefined)
    assert.equal(knownHash("s3://bucket/a"), undefined)
  })

  it("shares nothing while two executions run at once, and again once one is left", async () => {
    let releaseFirst = () => {}
    const first = withStatScope(async () => {
      rememberHash("s3://bucket/b", "h2")
      await new Promise<void>((resolve) => {
        releaseFirst = resolve
      })
      return knownHash("s3://bucket/b")
    })
    await withStatScope(async () => {
      assert.equal(activeScope(), undefined, "two executions run: neither shares")
      rememberHash("s3://bucket/c", "h3")
      assert.equal(knownHash("s3://bucket/c"), undefined)
    })
    // The second ended: the first is alone again and still knows what it learnt.
    releaseFirst()
    assert.equal(await first, "h2")
  })
})
