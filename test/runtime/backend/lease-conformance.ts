/**
 * The Backend's contract for killed hosts and overlapping runs (migration 0005) as specs,
 * registered once per implementation: execution leases and abandoning, and call leases claimed,
 * renewed, released and taken over. `peer` opens a second connection to the same store (another
 * host); two backends claiming at once must split the calls between them.
 *
 *   leaseConformance("SqliteBackend", async () => ({ backend, peer, dispose }))
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import type { Backend, LeaseClaim } from "../../../runtime/backend/backend.js"
import { execution, finishedCall, hash, job } from "./backend-conformance.js"

/** A backend, a second connection to the same store, and how to dispose of both. */
export interface LeaseBackendUnderTest {
  readonly backend: Backend
  /** Another connection to the same store (the same object where there is only one). */
  peer(): Promise<Backend>
  dispose(): Promise<void>
}

const NOW = 1_800_000_000_000
const claimOf = (holder: string, evalHashes: readonly string[], overrides: Partial<LeaseClaim> = {}): LeaseClaim => ({
  holder,
  evalHashes,
  now: NOW,
  expiresAt: NOW + 30_000,
  ...overrides,
})

export function leaseConformance(
  name: string,
  create: () => Promise<LeaseBackendUnderTest>,
  options: { skip?: string | false } = {},
): void {
  describe(`${name} (lease conformance)`, { skip: options.skip ?? false }, () => {
    let subject: LeaseBackendUnderTest
    let backend: Backend
    let claim: NonNullable<Backend["claimLeases"]>
    let abandon: NonNullable<Backend["abandonStaleExecutions"]>
    before(async () => {
      subject = await create()
      backend = subject.backend
      assert.ok(
        backend.claimLeases !== undefined && backend.abandonStaleExecutions !== undefined && backend.runningExecutions !== undefined,
      )
      claim = backend.claimLeases.bind(backend)
      abandon = backend.abandonStaleExecutions.bind(backend)
    })
    after(async () => subject?.dispose())

    it("keeps a RUNNING execution's lease expiry as written", async () => {
      const live = execution("10LEASE", { leaseExpiresAt: NOW + 5_000 })
      await backend.write({ executions: [live] })
      assert.deepEqual(await backend.getExecution("10LEASE"), { ...live, tags: {} })
    })

    it("marks executions whose lease expired ABANDONED with their unfinished jobs, once, and leaves live and finished ones", async () => {
      await backend.write({
        executions: [
          execution("11DEAD", { leaseExpiresAt: NOW - 1 }),
          execution("11LIVE", { leaseExpiresAt: NOW + 10_000 }),
          execution("11DONE", { status: "DONE", endedAt: NOW - 50_000, leaseExpiresAt: NOW - 60_000 }),
          // Recorded before 0005 (no lease): alive for an hour after it started.
          execution("11OLD", { startedAt: NOW - 2 * 3_600_000 }),
          execution("11RECENT", { startedAt: NOW - 60_000 }),
        ],
        jobs: [
          job("11DEAD", 1, { status: "RUNNING" }),
          job("11DEAD", 2, { status: "PENDING" }),
          job("11DEAD", 3, { status: "DONE", endedAt: NOW - 2_000, callHash: hash("call dead 3") }),
          job("11LIVE", 1, { status: "RUNNING" }),
        ],
      })
      assert.deepEqual((await abandon(NOW)).sort(), ["11DEAD", "11OLD"])
      const dead = await backend.getExecution("11DEAD")
      assert.deepEqual([dead?.status, dead?.endedAt], ["ABANDONED", NOW - 1])
      assert.match(dead?.error ?? "", /abandoned/)
      assert.deepEqual(
        (await backend.listJobs("11DEAD")).map((j) => [j.status, j.endedAt]),
        [
          ["ABANDONED", NOW],
          ["ABANDONED", NOW],
          ["DONE", NOW - 2_000],
        ],
      )
      assert.equal((await backend.getExecution("11OLD"))?.status, "ABANDONED")
      for (const id of ["11LIVE", "11RECENT"]) assert.equal((await backend.getExecution(id))?.status, "RUNNING")
      assert.equal((await backend.getExecution("11DONE"))?.status, "DONE")
      assert.deepEqual(
        (await backend.listJobs("11LIVE")).map((j) => j.status),
        ["RUNNING"],
      )
      assert.deepEqual(await abandon(NOW), [], "nothing is abandoned twice")
    })

    it("lists the RUNNING executions whose lease has not expired, with whether each takes call leases", async () => {
      await backend.write({
        executions: [
          execution("18ALONE", { leaseExpiresAt: NOW + 20_000, callLeases: false }),
          execution("18SHARING", { leaseExpiresAt: NOW + 20_000, callLeases: true }),
          execution("18NONE", { leaseExpiresAt: NOW + 20_000 }),
          execution("18EXPIRED", { leaseExpiresAt: NOW - 1, callLeases: true }),
          execution("18DONE", { status: "DONE", endedAt: NOW, leaseExpiresAt: NOW + 20_000, callLeases: true }),
        ],
      })
      const running = (await backend.runningExecutions?.(NOW))?.filter((e) => e.id.startsWith("18")) ?? []
      assert.deepEqual(running.map((e) => [e.id, e.callLeases ?? null]).sort(), [
        ["18ALONE", false],
        ["18NONE", null],
        ["18SHARING", true],
      ])
      assert.deepEqual(await abandon(NOW), ["18EXPIRED"])
    })

    it("lets a host that was abandoned but is alive renew its execution to RUNNING", async () => {
      await backend.write({ executions: [execution("12BACK", { leaseExpiresAt: NOW - 1 })] })
      assert.deepEqual(await abandon(NOW), ["12BACK"])
      await backend.write({ executions: [execution("12BACK", { leaseExpiresAt: NOW + 30_000 })] })
      assert.equal((await backend.getExecution("12BACK"))?.status, "RUNNING")
    })

    it("claims a call for one holder; another holder sees it held, with the holder and expiry", async () => {
      const evalHash = hash("lease one")
      const first = await claim(claimOf("13A", [evalHash]))
      assert.deepEqual([first.claimed, [...first.takenOver], [...first.held]], [[evalHash], [], []])
      const second = await claim(claimOf("13B", [evalHash]))
      assert.deepEqual(second.claimed, [])
      assert.deepEqual(second.held.get(evalHash), { holder: "13A", expiresAt: NOW + 30_000 })
      // The holder claiming again keeps (and extends) its lease.
      assert.deepEqual((await claim(claimOf("13A", [evalHash], { expiresAt: NOW + 40_000 }))).claimed, [evalHash])
      assert.equal((await claim(claimOf("13B", [evalHash]))).held.get(evalHash)?.expiresAt, NOW + 40_000)
    })

    it("does not claim a call with an evaluation, unless asked to; a lease released with the evaluation is gone", async () => {
      const { batch } = finishedCall("leased")
      const evalHash = hash("eval leased")
      assert.deepEqual((await claim(claimOf("14A", [evalHash]))).claimed, [evalHash])
      await backend.write({ ...batch, leases: { holder: "14A", release: [evalHash] } })
      const after = await claim(claimOf("14B", [evalHash]))
      assert.deepEqual([after.claimed, after.held.size], [[], 0])
      assert.deepEqual((await claim(claimOf("14B", [evalHash], { unlessEvaluated: false }))).claimed, [evalHash])
    })

    it("takes over a lease that expired, naming its holder; renewal keeps a lease from expiring", async () => {
      const [renewed, expired] = [hash("lease renewed"), hash("lease expired")]
      await claim(claimOf("15A", [renewed, expired], { expiresAt: NOW + 1_000 }))
      await backend.write({ leases: { holder: "15A", release: [expired], renewUntil: NOW + 9_000 } })
      await claim(claimOf("15C", [expired], { expiresAt: NOW + 1_000 }))
      const later = await claim(claimOf("15B", [renewed, expired], { now: NOW + 5_000, expiresAt: NOW + 35_000 }))
      assert.deepEqual(later.claimed, [expired])
      assert.deepEqual([...later.takenOver], [[expired, "15C"]])
      assert.deepEqual(later.held.get(renewed), { holder: "15A", expiresAt: NOW + 9_000 })
      const muchLater = await claim(claimOf("15B", [renewed], { now: NOW + 10_000, expiresAt: NOW + 40_000 }))
      assert.deepEqual([muchLater.claimed, [...muchLater.takenOver]], [[renewed], [[renewed, "15A"]]])
    })

    it("releases every lease of a holder at once, and drops the leases of an abandoned execution", async () => {
      const [a, b, c] = [hash("lease all a"), hash("lease all b"), hash("lease all c")]
      await claim(claimOf("16A", [a, b]))
      await backend.write({ leases: { holder: "16A", release: "all" } })
      assert.deepEqual([...(await claim(claimOf("16B", [a, b]))).claimed].sort(), [a, b].sort())
      await backend.write({ executions: [execution("16DEAD", { leaseExpiresAt: NOW - 1 })] })
      await claim(claimOf("16DEAD", [c], { now: NOW - 10_000, expiresAt: NOW + 60_000 }))
      assert.deepEqual(await abandon(NOW), ["16DEAD"])
      assert.deepEqual((await claim(claimOf("16B", [c]))).claimed, [c])
    })

    it("splits calls between two hosts claiming at the same moment: each call to exactly one, held by it for the other", async () => {
      const peer = await subject.peer()
      const hashes = Array.from({ length: 2_000 }, (_, i) => hash(`lease race ${i}`))
      const reversed = [...hashes].reverse()
      const [mine, theirs] = await Promise.all([claim(claimOf("17A", hashes)), peer.claimLeases?.(claimOf("17B", reversed))])
      const a = new Set(mine.claimed)
      const b = new Set(theirs?.claimed)
      assert.equal(a.size + b.size, hashes.length)
      for (const evalHash of hashes) assert.ok(a.has(evalHash) !== b.has(evalHash), `${evalHash} claimed by both or neither`)
      // The one that did not get a call sees it held by the other (not evaluated: nothing is).
      for (const evalHash of hashes) {
        if (a.has(evalHash)) assert.equal(theirs?.held.get(evalHash)?.holder, "17A", `${evalHash} claimed by 17A, not seen held by 17B`)
        else assert.equal(mine.held.get(evalHash)?.holder, "17B", `${evalHash} claimed by 17B, not seen held by 17A`)
      }
    })
  })
}
