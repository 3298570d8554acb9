/**
 * The Backend contract as specs, registered once per implementation:
 *
 *   backendConformance("SqliteBackend", async () => { ...; return { backend, dispose } })
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import type { Backend, CallRecord, ExecutionRecord, JobRecord, WriteBatch } from "../../../runtime/backend/backend.js"
import { isReductioError } from "../../../runtime/errors.js"
import { evalHashOf, sha256, valueHashOf } from "../../../runtime/hashing.js"

/** An opened backend and how to dispose of it (close, remove files, drop the database). */
export interface BackendUnderTest {
  readonly backend: Backend
  dispose(): Promise<void>
}

export interface ConformanceOptions {
  /** A reason to skip every spec (the implementation cannot run here). */
  readonly skip?: string | false
}

export const hash = (label: string): string => sha256(label)
const bytes = (...values: number[]) => new Uint8Array(values)

export function execution(id: string, overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id,
    startedAt: 1_700_000_000_000,
    endedAt: null,
    status: "RUNNING",
    command: `run ${id}`,
    rootCallHash: null,
    error: null,
    ...overrides,
  }
}

export function job(executionId: string, seq: number, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    executionId,
    seq,
    parentSeq: null,
    taskHash: hash("task inc"),
    evalHash: hash(`eval ${seq}`),
    callHash: null,
    status: "RUNNING",
    cached: false,
    createdAt: 1_700_000_000_000 + seq,
    startedAt: null,
    endedAt: null,
    error: null,
    ...overrides,
  }
}

/** A finished call with its args and result values and its cache entry. */
export function finishedCall(label: string, children: readonly string[] = []): { call: CallRecord; batch: WriteBatch } {
  const args = { hash: hash(`args ${label}`), bytes: bytes(0x81, label.length) }
  const value = { hash: hash(`value ${label}`), bytes: bytes(0x18, label.length, 7) }
  const call: CallRecord = {
    callHash: hash(`call ${label}`),
    taskHash: hash("task inc"),
    argsHash: args.hash,
    valueHash: value.hash,
    children,
  }
  return {
    call,
    batch: {
      tasks: [{ hash: hash("task inc"), name: "inc", source: "(x) => x + 1", version: null }],
      values: [args, value],
      evaluations: [{ evalHash: hash(`eval ${label}`), valueHash: value.hash }],
      calls: [call],
    },
  }
}

/**
 * A finished call as a run records it: its small arguments with its record alone, its small value
 * with its record and in `values`.
 */
export function inlineCall(label: string): {
  call: CallRecord & { argsBytes: Uint8Array; valueBytes: Uint8Array }
  batch: WriteBatch
} {
  const { call, batch } = finishedCall(label)
  const [args, value] = batch.values ?? []
  const inline = { ...call, argsBytes: args?.bytes as Uint8Array, valueBytes: value?.bytes as Uint8Array }
  return {
    call: inline,
    batch: {
      ...batch,
      values: value === undefined ? [] : [value],
      calls: [inline],
      evaluations: [{ evalHash: hash(`eval ${label}`), valueHash: call.valueHash, callHash: call.callHash }],
    },
  }
}

/**
 * A trivial call as a run records it, with real value hashes: it holds no File, and its small
 * arguments and value are in its record, whose value hash is that of the bytes.
 */
export function derivedCall(label: string): { call: CallRecord & { valueBytes: Uint8Array }; batch: WriteBatch } {
  const argsBytes = bytes(0x81, 0x63, ...new TextEncoder().encode(label.slice(0, 3)))
  const valueBytes = bytes(0x82, label.length, 0x2a)
  const call = {
    callHash: hash(`call ${label}`),
    taskHash: hash("task inc"),
    argsHash: valueHashOf(argsBytes),
    valueHash: valueHashOf(valueBytes),
    children: [],
    checked: false,
    argsBytes,
    valueBytes,
  }
  return {
    call,
    batch: {
      tasks: [{ hash: hash("task inc"), name: "inc", source: "(x) => x + 1", version: null }],
      calls: [call],
      evaluations: [{ evalHash: hash(`eval ${label}`), valueHash: call.valueHash, callHash: call.callHash, replayable: true }],
    },
  }
}

export function backendConformance(name: string, create: () => Promise<BackendUnderTest>, options: ConformanceOptions = {}): void {
  describe(`${name} (Backend conformance)`, { skip: options.skip ?? false }, () => {
    let subject: BackendUnderTest
    let backend: Backend
    before(async () => {
      subject = await create()
      backend = subject.backend
    })
    after(async () => subject?.dispose())

    it("returns a written value's bytes by hash, and undefined for an unknown hash", async () => {
      await backend.write({ values: [{ hash: hash("v1"), bytes: bytes(1, 2, 3) }] })
      assert.deepEqual(await backend.getValue(hash("v1")), bytes(1, 2, 3))
      assert.equal(await backend.getValue(hash("absent")), undefined)
    })

    it("loads cached evaluations with their value bytes, leaving misses out", async () => {
      const { batch, call } = finishedCall("load")
      await backend.write(batch)
      const found = await backend.loadEvaluations([hash("eval load"), hash("eval missing")])
      assert.equal(found.size, 1)
      assert.deepEqual(found.get(hash("eval load")), {
        valueHash: call.valueHash,
        bytes: bytes(0x18, 4, 7),
        callHash: null,
        replayable: false,
      })
    })

    it("reads a call's small value given with its record back through the call: lookups, getValue of the call, its tree", async () => {
      const { batch, call } = inlineCall("inline read")
      await backend.write(batch)
      const evalHash = hash("eval inline read")
      assert.deepEqual(
        (({ valueHash, bytes, callHash }) => ({ valueHash, bytes, callHash }))(
          (await backend.loadEvaluations([evalHash])).get(evalHash) ?? { valueHash: "", bytes: bytes(), callHash: null },
        ),
        { valueHash: call.valueHash, bytes: call.valueBytes, callHash: call.callHash },
      )
      assert.deepEqual(await backend.getValue(call.valueHash, call.callHash), call.valueBytes)
      assert.deepEqual(await backend.getValue(call.argsHash, call.callHash), call.argsBytes)
      assert.deepEqual((await backend.loadCallTree?.(call.callHash))?.bytes, call.valueBytes)
      const read = await backend.getCall?.(call.callHash)
      assert.deepEqual([read?.argsHash, read?.valueHash], [call.argsHash, call.valueHash])
      if (read?.argsBytes !== undefined) assert.deepEqual(read.argsBytes, call.argsBytes)
      if (read?.valueBytes !== undefined) assert.deepEqual(read.valueBytes, call.valueBytes)
      const content = await backend.readContent?.({ values: [call.argsHash, call.valueHash], valuesOfCalls: [call.callHash] })
      if (content !== undefined) {
        assert.deepEqual(
          new Map(content.values?.map((v) => [v.hash, v.bytes])),
          new Map([
            [call.argsHash, call.argsBytes],
            [call.valueHash, call.valueBytes],
          ]),
        )
      }
    })

    it("stores the arguments a job row without a call names by hash, given with the row", async () => {
      const argsBytes = bytes(0x81, 0x63, 1, 2)
      const argsHash = hash("args of a failed job")
      await backend.write({ jobs: [job("ARGS", 1, { status: "FAILED", argsHash, argsBytes, error: "{}" })] })
      assert.deepEqual(await backend.getValue(argsHash), argsBytes)
    })

    it("stores a call's small value under its hash too when another row of the batch names it: an evaluation's own value, a job's arguments", async () => {
      const { batch, call } = inlineCall("inline named")
      const own = { evalHash: hash("eval inline own"), valueHash: call.valueHash }
      const live = job("INLINE", 1, { argsHash: call.valueHash })
      await backend.write({ ...batch, evaluations: [...(batch.evaluations ?? []), own], jobs: [live] })
      assert.deepEqual(await backend.getValue(call.valueHash), call.valueBytes)
      assert.deepEqual((await backend.loadEvaluations([own.evalHash])).get(own.evalHash)?.bytes, call.valueBytes)
    })

    it("reads a call's small value for an evaluation written later that names it by hash with the call", async () => {
      const { batch, call } = inlineCall("inline later")
      await backend.write(batch)
      const later = { evalHash: hash("eval inline later 2"), valueHash: call.valueHash, callHash: call.callHash, replayable: true }
      await backend.write({ evaluations: [later] })
      const found = (await backend.loadEvaluations([later.evalHash])).get(later.evalHash)
      assert.deepEqual([found?.bytes, found?.replayable], [call.valueBytes, true])
    })

    it("names a small value its call node holds by the hash of its bytes: lookups, evaluations written later, its tree, the call, its content", async () => {
      const { batch, call } = derivedCall("derived")
      await backend.write(batch)
      const first = hash("eval derived")
      // Written later, naming the call: one with the node's value, one with its own value stored
      // under its hash, one with a value recorded nowhere.
      const own = { hash: valueHashOf(bytes(0x18, 0x2b)), bytes: bytes(0x18, 0x2b) }
      const later = { evalHash: hash("eval derived later"), valueHash: call.valueHash, callHash: call.callHash }
      const other = { evalHash: hash("eval derived own"), valueHash: own.hash, callHash: call.callHash }
      const missing = { evalHash: hash("eval derived missing"), valueHash: hash("recorded nowhere"), callHash: call.callHash }
      await backend.write({ values: [own], evaluations: [later, other, missing] })
      const found = await backend.loadEvaluations([first, later.evalHash, other.evalHash, missing.evalHash])
      assert.deepEqual(
        [first, later.evalHash, other.evalHash, missing.evalHash].map((evalHash) => {
          const entry = found.get(evalHash)
          return entry && [entry.valueHash, entry.bytes]
        }),
        [[call.valueHash, call.valueBytes], [call.valueHash, call.valueBytes], [own.hash, own.bytes], undefined],
      )
      const tree = await backend.loadCallTree?.(call.callHash)
      if (backend.loadCallTree !== undefined) assert.deepEqual([tree?.valueHash, tree?.bytes], [call.valueHash, call.valueBytes])
      if (backend.getCall !== undefined) assert.equal((await backend.getCall(call.callHash))?.valueHash, call.valueHash)
      assert.deepEqual(await backend.getValue(call.valueHash, call.callHash), call.valueBytes)
      const content = await backend.readContent?.({
        evaluations: [first],
        calls: [call.callHash],
        values: [call.valueHash],
        valuesOfCalls: [call.callHash],
      })
      if (backend.readContent !== undefined) {
        assert.deepEqual(
          content?.evaluations?.map((e) => e.valueHash),
          [call.valueHash],
        )
        assert.deepEqual(
          content?.calls?.map((c) => c.valueHash),
          [call.valueHash],
        )
        assert.deepEqual(
          content?.values?.map((v) => [v.hash, v.bytes]),
          [[call.valueHash, call.valueBytes]],
        )
      }
    })

    it("keeps the call hash an evaluation was recorded with, the latest write winning", async () => {
      const { batch, call } = finishedCall("with call")
      await backend.write(batch)
      await backend.write({ evaluations: [{ evalHash: hash("eval with call"), valueHash: call.valueHash, callHash: call.callHash }] })
      const found = await backend.loadEvaluations([hash("eval with call")])
      assert.equal(found.get(hash("eval with call"))?.callHash, call.callHash)
    })

    it("keeps whether an evaluation's call tree is replayable, the latest write winning", async () => {
      const { batch, call } = finishedCall("replayable")
      await backend.write(batch)
      const evaluation = { evalHash: hash("eval replayable"), valueHash: call.valueHash, callHash: call.callHash }
      await backend.write({ evaluations: [{ ...evaluation, replayable: true }] })
      assert.equal((await backend.loadEvaluations([evaluation.evalHash])).get(evaluation.evalHash)?.replayable, true)
      await backend.write({ evaluations: [{ ...evaluation, replayable: false }] })
      assert.equal((await backend.loadEvaluations([evaluation.evalHash])).get(evaluation.evalHash)?.replayable, false)
    })

    it("loads a call tree: the root's final value and every call below it per task, a shared call once", async () => {
      // root → left, right; left → leaf; right → leaf (shared), leaf2
      const leaf = finishedCall("tree leaf")
      const leaf2 = finishedCall("tree leaf2")
      const left = finishedCall("tree left", [leaf.call.callHash])
      const right = finishedCall("tree right", [leaf.call.callHash, leaf2.call.callHash])
      const root = finishedCall("tree root", [left.call.callHash, right.call.callHash])
      const other = { hash: hash("task other"), name: "other", source: "() => 1", version: null }
      const calls = [{ ...left.call, taskHash: other.hash }, { ...right.call, taskHash: other.hash }, leaf.call, leaf2.call, root.call]
      const values = [leaf, leaf2, left, right, root].flatMap((part) => part.batch.values ?? [])
      await backend.write({ tasks: [...(root.batch.tasks ?? []), other], values, calls })
      const tree = await backend.loadCallTree?.(root.call.callHash)
      assert.ok(tree, "loadCallTree is implemented and finds the root")
      assert.equal(tree.valueHash, root.call.valueHash)
      assert.deepEqual(tree.bytes, bytes(0x18, "tree root".length, 7))
      const below = (call: CallRecord) => ({ callHash: call.callHash, taskHash: call.taskHash, argsHash: call.argsHash })
      const byHash = (a: { callHash: string }, b: { callHash: string }) => (a.callHash < b.callHash ? -1 : 1)
      assert.deepEqual([...tree.calls].sort(byHash), calls.slice(0, 4).map(below).sort(byHash))
      const lone = await backend.loadCallTree?.(leaf.call.callHash)
      assert.deepEqual(lone?.calls, [])
    })

    it("returns the values and arguments to check in a call tree: of calls that hold Files, or may (recorded before this was kept)", async () => {
      const clean = { ...finishedCall("checked clean").call, checked: false }
      const file = { ...finishedCall("checked file").call, checked: true }
      const unknown = finishedCall("checked unknown").call
      const root = { ...finishedCall("checked root", [clean.callHash, file.callHash, unknown.callHash]).call, checked: true }
      const values = ["clean", "file", "unknown", "root"].flatMap((label) => finishedCall(`checked ${label}`).batch.values ?? [])
      await backend.write({ tasks: finishedCall("checked root").batch.tasks ?? [], values, calls: [clean, file, unknown, root] })
      const tree = await backend.loadCallTree?.(root.callHash)
      assert.ok(tree)
      const hex = (value: Uint8Array) => Buffer.from(value).toString("hex")
      const expected = ["checked file", "checked unknown"].flatMap((label) =>
        (finishedCall(label).batch.values ?? []).map((v) => hex(v.bytes)),
      )
      assert.deepEqual(tree.checkedValues.map(hex).sort(), expected.sort())
      const copied = (await backend.readContent?.({ calls: [clean.callHash, file.callHash, unknown.callHash] }))?.calls ?? []
      const checkedOf = (hash: string) => copied.find((call) => call.callHash === hash)?.checked ?? "unknown"
      assert.deepEqual([checkedOf(clean.callHash), checkedOf(file.callHash), checkedOf(unknown.callHash)], [false, true, "unknown"])
    })

    it("names the calls a replay cannot reuse: entry missing, naming another call, not replayable, or malformed", async () => {
      const held = finishedCall("expected held")
      const other = finishedCall("expected other")
      const entry = (label: string, callHash: string, replayable: boolean) => ({
        evalHash: hash(`eval ${label}`),
        valueHash: held.call.valueHash,
        callHash,
        replayable,
      })
      await backend.write({
        ...held.batch,
        evaluations: [
          entry("expected held", held.call.callHash, true),
          entry("expected moved", other.call.callHash, true),
          entry("expected closed", held.call.callHash, false),
        ],
      })
      const expected = [
        { evalHash: hash("eval expected held"), callHash: held.call.callHash },
        { evalHash: hash("eval expected moved"), callHash: held.call.callHash },
        { evalHash: hash("eval expected closed"), callHash: held.call.callHash },
        { evalHash: hash("eval expected never written"), callHash: held.call.callHash },
        { evalHash: "not a hash", callHash: held.call.callHash },
        { evalHash: hash("eval expected held"), callHash: held.call.callHash },
      ]
      const failing = await backend.unreplayableCalls?.(expected)
      assert.ok(failing, "unreplayableCalls is implemented")
      assert.deepEqual([...failing].sort(), [1, 2, 3, 4])
      // Thousands at once, as a replay of a fan-out asks.
      const many = Array.from({ length: 5000 }, (_, i) => (i % 1000 === 7 ? expected[1] : expected[0]) as (typeof expected)[number])
      assert.deepEqual(
        [...((await backend.unreplayableCalls?.(many)) ?? [])].sort((a, b) => a - b),
        [7, 1007, 2007, 3007, 4007],
      )
    })

    it("loads a call tree of thousands of calls, each once with its task and arguments, and the values to check among them", async () => {
      const leaves = Array.from({ length: 3000 }, (_, i) => {
        const { call, batch } = finishedCall(`wide leaf ${i}`)
        return { call: { ...call, checked: i % 100 === 0 }, values: batch.values ?? [] }
      })
      const root = finishedCall(
        "wide root",
        leaves.map((leaf) => leaf.call.callHash),
      )
      await backend.write({
        tasks: root.batch.tasks ?? [],
        values: [...leaves.flatMap((leaf) => leaf.values), ...(root.batch.values ?? [])],
        calls: [...leaves.map((leaf) => leaf.call), root.call],
      })
      const tree = await backend.loadCallTree?.(root.call.callHash)
      assert.ok(tree)
      const key = (call: { callHash: string; taskHash: string; argsHash: string }) => `${call.callHash} ${call.taskHash} ${call.argsHash}`
      assert.deepEqual(tree.calls.map(key).sort(), leaves.map((leaf) => key(leaf.call)).sort())
      const hex = (value: Uint8Array) => Buffer.from(value).toString("hex")
      const checked = leaves.filter((leaf) => leaf.call.checked).flatMap((leaf) => leaf.values.map((value) => hex(value.bytes)))
      assert.deepEqual(tree.checkedValues.map(hex).sort(), checked.sort())
    })

    it("loads no call tree for an unknown call, or one with a call below it missing", async () => {
      assert.equal(await backend.loadCallTree?.(hash("call nowhere")), undefined)
      const orphan = finishedCall("tree orphan", [hash("call never written")])
      await backend.write(orphan.batch)
      assert.equal(await backend.loadCallTree?.(orphan.call.callHash), undefined)
    })

    it("loads thousands of evaluations in one call", async () => {
      const labels = Array.from({ length: 2500 }, (_, i) => `many ${i}`)
      const values = labels.map((label) => ({ hash: hash(`value ${label}`), bytes: bytes(label.length) }))
      const evaluations = labels.map((label) => ({ evalHash: hash(`eval ${label}`), valueHash: hash(`value ${label}`) }))
      await backend.write({ values, evaluations })
      const found = await backend.loadEvaluations([...labels.map((label) => hash(`eval ${label}`)), hash("eval nowhere")])
      assert.equal(found.size, 2500)
      assert.deepEqual(found.get(hash("eval many 2499")), {
        valueHash: hash("value many 2499"),
        bytes: bytes(9),
        callHash: null,
        replayable: false,
      })
    })

    it("records a new result for an eval hash that is written again (the latest wins)", async () => {
      await backend.write({
        values: [
          { hash: hash("old"), bytes: bytes(1) },
          { hash: hash("new"), bytes: bytes(2) },
        ],
        evaluations: [{ evalHash: hash("eval rerun"), valueHash: hash("old") }],
      })
      await backend.write({ evaluations: [{ evalHash: hash("eval rerun"), valueHash: hash("new") }] })
      assert.equal((await backend.loadEvaluations([hash("eval rerun")])).get(hash("eval rerun"))?.valueHash, hash("new"))
    })

    it("applies the same batch twice without error or duplicates", async () => {
      const parent = finishedCall("idem parent", [hash("call idem child")])
      const batch: WriteBatch = {
        ...parent.batch,
        executions: [execution("01IDEM")],
        jobs: [job("01IDEM", 1)],
        files: [{ path: "/data/idem.txt", fileHash: hash("file idem"), callHash: parent.call.callHash, role: "output" }],
        tags: [{ executionId: "01IDEM", key: "env", value: "test" }],
      }
      await backend.write(batch)
      await backend.write(batch)
      assert.equal((await backend.listJobs("01IDEM")).length, 1)
      assert.deepEqual((await backend.getCall?.(parent.call.callHash))?.children, [hash("call idem child")])
      assert.equal((await backend.fileUses?.("/data/idem.txt"))?.length, 1)
    })

    it("keeps the latest state of a job, even within one batch", async () => {
      await backend.write({
        executions: [execution("01JOBS")],
        tasks: [{ hash: hash("task inc"), name: "inc", source: "(x) => x + 1", version: null }],
        jobs: [job("01JOBS", 2), job("01JOBS", 1), job("01JOBS", 2, { status: "DONE", endedAt: 5, callHash: hash("call x") })],
      })
      await backend.write({ jobs: [job("01JOBS", 1, { status: "FAILED", error: '{"message":"boom"}', cached: true })] })
      const jobs = await backend.listJobs("01JOBS")
      assert.deepEqual(
        jobs.map((j) => [j.seq, j.status, j.taskName]),
        [
          [1, "FAILED", "inc"],
          [2, "DONE", "inc"],
        ],
      )
      const read = { taskName: "inc", argsHash: null, bodyEndedAt: null, name: null, executor: null }
      assert.deepEqual(jobs[0], { ...job("01JOBS", 1, { status: "FAILED", error: '{"message":"boom"}', cached: true }), ...read })
      assert.deepEqual(jobs[1], { ...job("01JOBS", 2, { status: "DONE", endedAt: 5, callHash: hash("call x") }), ...read })
    })

    it("keeps how many recorded calls a job reused", async () => {
      await backend.write({
        executions: [execution("01REUSE")],
        tasks: [{ hash: hash("task inc"), name: "inc", source: "(x) => x + 1", version: null }],
        jobs: [job("01REUSE", 1, { status: "CACHED", cached: true, reusedCalls: 10_000 }), job("01REUSE", 2, { reusedCalls: null })],
      })
      const jobs = await backend.listJobs("01REUSE")
      assert.equal(jobs[0]?.reusedCalls, 10_000)
      assert.equal(jobs[1]?.reusedCalls ?? null, null)
    })

    it("updates an execution in place and finds it by id or unique prefix", async () => {
      await backend.write({ executions: [execution("01PFX-AAA1"), execution("01PFX-AAB2")] })
      const done = execution("01PFX-AAA1", { status: "DONE", endedAt: 1_700_000_000_500, rootCallHash: hash("root") })
      await backend.write({ executions: [done] })
      assert.deepEqual(await backend.getExecution("01PFX-AAA1"), { ...done, tags: {} })
      assert.deepEqual(await backend.getExecution("01PFX-AAA"), { ...done, tags: {} })
      assert.equal(await backend.getExecution("01PFX-AA"), undefined, "an ambiguous prefix matches nothing")
      assert.equal(await backend.getExecution("01NOPE"), undefined)
    })

    it("lists executions newest first, with a limit and a tag filter", async () => {
      await backend.write({
        executions: [execution("02LIST-1"), execution("02LIST-3"), execution("02LIST-2")],
        tags: [
          { executionId: "02LIST-1", key: "team", value: "bio" },
          { executionId: "02LIST-2", key: "team", value: "ml" },
        ],
      })
      const all = await backend.listExecutions()
      assert.deepEqual(
        all.slice(0, 3).map((e) => e.id),
        ["02LIST-3", "02LIST-2", "02LIST-1"],
      )
      assert.deepEqual(
        (await backend.listExecutions({ limit: 2 })).map((e) => e.id),
        ["02LIST-3", "02LIST-2"],
      )
      assert.deepEqual(
        (await backend.listExecutions({ tag: "team" })).map((e) => e.id),
        ["02LIST-2", "02LIST-1"],
      )
      assert.deepEqual(
        (await backend.listExecutions({ tag: "team=bio" })).map((e) => e.id),
        ["02LIST-1"],
      )
    })

    it("filters executions by status and by a task they ran, and pages them newest first", async () => {
      await backend.write({
        tasks: [{ hash: hash("task filt.align"), name: "filt.align", source: "(x) => x", version: null }],
        executions: [
          execution("03FILT-1", { status: "DONE", endedAt: 1_700_000_000_100 }),
          execution("03FILT-2", { status: "FAILED", endedAt: 1_700_000_000_100, error: "boom" }),
          execution("03FILT-3", { status: "DONE", endedAt: 1_700_000_000_100 }),
        ],
        jobs: [job("03FILT-2", 1, { taskHash: hash("task filt.align"), status: "FAILED" }), job("03FILT-3", 1, { status: "DONE" })],
      })
      const ids = async (query: Parameters<Backend["listExecutions"]>[0]) =>
        (await backend.listExecutions({ idPrefix: "03FILT", ...query })).map((e) => e.id)
      assert.deepEqual(await ids({ status: "DONE" }), ["03FILT-3", "03FILT-1"])
      assert.deepEqual(await ids({ status: "FAILED" }), ["03FILT-2"])
      assert.deepEqual(await ids({ taskName: "filt.align" }), ["03FILT-2"])
      assert.deepEqual(await ids({ taskName: "no-such-task" }), [])
      assert.deepEqual(await ids({ limit: 1, offset: 1 }), ["03FILT-2"])
      assert.deepEqual(await ids({ offset: 2 }), ["03FILT-1"])
    })

    it("keeps a job's own times: created, its body's start and end on its executor, and its end", async () => {
      const times = {
        createdAt: 1_700_000_000_010,
        startedAt: 1_700_000_000_400,
        bodyEndedAt: 1_700_000_000_401,
        endedAt: 1_700_000_000_900,
      }
      await backend.write({ executions: [execution("06TIMES")], jobs: [job("06TIMES", 1, { status: "DONE", ...times })] })
      const [read] = await backend.listJobs("06TIMES")
      assert.deepEqual(read && [read.createdAt, read.startedAt, read.bodyEndedAt, read.endedAt], Object.values(times))
    })

    it("keeps where a job's body ran: its executor and that executor's id for it", async () => {
      await backend.write({
        executions: [execution("07EXEC")],
        jobs: [
          job("07EXEC", 1, { status: "DONE", executor: "batch", executorJobId: "0b3f7c1e-aaaa:17" }),
          job("07EXEC", 2, { status: "CACHED", cached: true }),
        ],
      })
      const read = await backend.listJobs("07EXEC")
      assert.deepEqual(
        read.map((j) => [j.executor, j.executorJobId ?? null]),
        [
          ["batch", "0b3f7c1e-aaaa:17"],
          [null, null],
        ],
      )
    })

    it("keeps a job's args hash and name: findJobs reads a finished job's from its call node", async () => {
      const { batch, call } = finishedCall("args of a job")
      await backend.write({
        ...batch,
        executions: [execution("06ARGS")],
        jobs: [
          job("06ARGS", 1, { status: "FAILED", argsHash: hash("failed args"), name: "sort reads" }),
          job("06ARGS", 2, { status: "DONE", callHash: call.callHash, argsHash: call.argsHash }),
        ],
      })
      const found = (await backend.findJobs?.({ executionId: "06ARGS", seqs: [1, 2] })) ?? []
      assert.deepEqual(
        found.map((j) => [j.argsHash, j.name]),
        [
          [hash("failed args"), "sort reads"],
          [call.argsHash, null],
        ],
      )
      const listed = await backend.listJobs("06ARGS")
      assert.deepEqual(
        listed.map((j) => j.argsHash),
        [hash("failed args"), null],
        "listJobs leaves a finished job's args hash to its call node",
      )
    })

    it("finds jobs by execution, seq, parent, eval-hash prefix, task name and status, with a limit and an offset", async () => {
      await backend.write({
        executions: [execution("07FIND-A"), execution("07FIND-B")],
        tasks: [
          { hash: hash("task inc"), name: "inc", source: "(x) => x + 1", version: null },
          { hash: hash("task sum"), name: "sum", source: "(xs) => 0", version: null },
        ],
        jobs: [
          job("07FIND-A", 1, { taskHash: hash("task sum"), evalHash: hash("07 root"), status: "WAITING" }),
          ...[2, 3, 4].map((seq) =>
            job("07FIND-A", seq, { parentSeq: 1, evalHash: hash(`07 leaf ${seq}`), status: seq === 3 ? "FAILED" : "DONE" }),
          ),
          job("07FIND-B", 1, { evalHash: hash("07 leaf 3"), status: "FAILED" }),
        ],
      })
      const keys = (jobs: readonly { executionId: string; seq: number }[]) => jobs.map((j) => `${j.executionId}/${j.seq}`)
      assert.deepEqual(keys((await backend.findJobs?.({ executionId: "07FIND-A", parentSeq: 1 })) ?? []), [
        "07FIND-A/2",
        "07FIND-A/3",
        "07FIND-A/4",
      ])
      assert.deepEqual(keys((await backend.findJobs?.({ executionId: "07FIND-A", parentSeq: null })) ?? []), ["07FIND-A/1"])
      assert.deepEqual(keys((await backend.findJobs?.({ executionId: "07FIND-A", seq: 3 })) ?? []), ["07FIND-A/3"])
      const prefix = hash("07 leaf 3").slice(0, 9)
      assert.deepEqual(
        keys((await backend.findJobs?.({ evalHashPrefix: prefix })) ?? []),
        ["07FIND-B/1", "07FIND-A/3"],
        "newest execution first",
      )
      assert.deepEqual(keys((await backend.findJobs?.({ taskName: "sum" })) ?? []), ["07FIND-A/1"])
      assert.deepEqual(keys((await backend.findJobs?.({ status: "FAILED", executionId: "07FIND-A" })) ?? []), ["07FIND-A/3"])
      assert.deepEqual(keys((await backend.findJobs?.({ executionId: "07FIND-A", limit: 2, offset: 1 })) ?? []), [
        "07FIND-A/2",
        "07FIND-A/3",
      ])
      assert.deepEqual(keys((await backend.findJobs?.({ executionId: "07FIND-A", offset: 3 })) ?? []), ["07FIND-A/4"])
      assert.equal((await backend.findJobs?.({ executionId: "07FIND-A", seq: 1 }))?.[0]?.taskName, "sum")
      await assert.rejects(
        Promise.resolve().then(() => backend.findJobs?.({ evalHashPrefix: "zz'; drop table job" })),
        (error) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    })

    it("counts an execution's jobs by status, with the calls reused below them", async () => {
      await backend.write({
        executions: [execution("08COUNT")],
        jobs: [
          job("08COUNT", 1, { status: "CACHED", cached: true, reusedCalls: 10_000 }),
          job("08COUNT", 2, { status: "DONE" }),
          job("08COUNT", 3, { status: "DONE" }),
          job("08COUNT", 4, { status: "FAILED" }),
        ],
      })
      assert.deepEqual(await backend.countJobs?.("08COUNT"), { jobs: 4, byStatus: { CACHED: 1, DONE: 2, FAILED: 1 }, reusedCalls: 10_000 })
      assert.deepEqual(await backend.countJobs?.("08NONE"), { jobs: 0, byStatus: {}, reusedCalls: 0 })
    })

    it("gives the shape of an execution's job tree: each job's seq and parent, in seq order", async () => {
      await backend.write({
        executions: [execution("08SHAPE")],
        jobs: [job("08SHAPE", 3, { parentSeq: 1 }), job("08SHAPE", 1, { parentSeq: null }), job("08SHAPE", 2, { parentSeq: 1 })],
      })
      assert.deepEqual(await backend.jobParents?.("08SHAPE"), [
        { seq: 1, parentSeq: null },
        { seq: 2, parentSeq: 1 },
        { seq: 3, parentSeq: 1 },
      ])
      assert.deepEqual(await backend.jobParents?.("08NONE"), [])
    })

    it("lists the recorded versions of a task name", async () => {
      await backend.write({
        tasks: [
          { hash: hash("task align v1"), name: "align", source: "() => 1", version: null },
          { hash: hash("task align v2"), name: "align", source: "() => 2", version: null },
        ],
      })
      assert.deepEqual(
        (await backend.tasksNamed?.("align"))?.map((t) => t.hash).sort(),
        [hash("task align v1"), hash("task align v2")].sort(),
      )
      assert.deepEqual(await backend.tasksNamed?.("nothing"), [])
    })

    it("lists executions by id prefix, each with its tags", async () => {
      await backend.write({
        executions: [execution("09PFX-1"), execution("09PFX-2"), execution("09OTHER")],
        tags: [
          { executionId: "09PFX-1", key: "user", value: "ada" },
          { executionId: "09PFX-1", key: "git_commit", value: "abc" },
        ],
      })
      const found = await backend.listExecutions({ idPrefix: "09PFX" })
      assert.deepEqual(
        found.map((e) => [e.id, e.tags]),
        [
          ["09PFX-2", {}],
          ["09PFX-1", { git_commit: "abc", user: "ada" }],
        ],
      )
      assert.deepEqual((await backend.getExecution("09PFX-1"))?.tags, { git_commit: "abc", user: "ada" })
    })

    it("sets, replaces and removes an execution's tags", async () => {
      await backend.write({ executions: [execution("03TAGS")], tags: [{ executionId: "03TAGS", key: "a", value: "1" }] })
      await backend.write({
        tags: [
          { executionId: "03TAGS", key: "a", value: "2" },
          { executionId: "03TAGS", key: "b", value: "" },
        ],
      })
      assert.deepEqual(await backend.getTags?.("03TAGS"), { a: "2", b: "" })
      await backend.removeTags?.("03TAGS", ["a", "missing"])
      assert.deepEqual(await backend.getTags?.("03TAGS"), { b: "" })
    })

    it("returns a task by hash", async () => {
      await backend.write({ tasks: [{ hash: hash("task v"), name: "versioned", source: "() => 1", version: "2" }] })
      assert.deepEqual(await backend.getTask?.(hash("task v")), {
        hash: hash("task v"),
        name: "versioned",
        source: "() => 1",
        version: "2",
      })
      assert.equal(await backend.getTask?.(hash("task none")), undefined)
    })

    it("stores text with quotes, backslashes, braces, commas, NULL and non-ASCII as written", async () => {
      const awkward = `{"a\\b", 'c'}, NULL \\x00 é ✓\n`
      await backend.write({
        executions: [execution("06TEXT", { command: awkward })],
        tasks: [{ hash: hash("task awkward"), name: "NULL", source: awkward, version: "" }],
        jobs: [job("06TEXT", 1, { taskHash: hash("task awkward"), status: "FAILED", error: awkward })],
      })
      assert.equal((await backend.getExecution("06TEXT"))?.command, awkward)
      assert.deepEqual(await backend.getTask?.(hash("task awkward")), {
        hash: hash("task awkward"),
        name: "NULL",
        source: awkward,
        version: "",
      })
      const [listed] = await backend.listJobs("06TEXT")
      assert.deepEqual([listed?.taskName, listed?.error, listed?.parentSeq, listed?.callHash], ["NULL", awkward, null, null])
    })

    it("returns a call with its 10,000 children in order", async () => {
      const children = Array.from({ length: 10_000 }, (_, i) => hash(`child ${i}`))
      const { batch, call } = finishedCall("fan-out", children)
      await backend.write(batch)
      assert.deepEqual(await backend.getCall?.(call.callHash), call)
      assert.equal(await backend.getCall?.(hash("call none")), undefined)
    })

    it("tells which call, task and execution produced a file", async () => {
      const { batch, call } = finishedCall("producer")
      await backend.write({
        ...batch,
        executions: [execution("04FILE")],
        jobs: [job("04FILE", 1, { callHash: call.callHash, createdAt: 1_700_000_000_900 })],
        files: [{ path: "s3://bucket/out.bam", fileHash: hash("bam"), callHash: call.callHash, role: "output" }],
      })
      assert.deepEqual(await backend.fileUses?.("s3://bucket/out.bam"), [
        {
          path: "s3://bucket/out.bam",
          fileHash: hash("bam"),
          callHash: call.callHash,
          role: "output",
          taskName: "inc",
          executionId: "04FILE",
          at: 1_700_000_000_900,
        },
      ])
      assert.deepEqual(await backend.fileUses?.("s3://bucket/none"), [])
    })

    it("keeps the execution that first made a call as its file's origin when a later one replays it", async () => {
      const { batch, call } = finishedCall("replayed producer")
      const use = { path: "/replayed.txt", fileHash: hash("replayed"), callHash: call.callHash, role: "output" } as const
      for (const [id, createdAt] of [
        ["05FIRST", 1_700_000_000_100],
        ["05LATER", 1_700_000_000_200],
      ] as const) {
        await backend.write({
          ...batch,
          executions: [execution(id)],
          jobs: [job(id, 1, { callHash: call.callHash, createdAt, cached: id === "05LATER" })],
          files: [use],
        })
      }
      const uses = await backend.fileUses?.("/replayed.txt")
      assert.deepEqual(
        uses?.map((u) => [u.executionId, u.at]),
        [["05FIRST", 1_700_000_000_100]],
      )
    })

    it("keeps values of every size: small ones and large ones read back the same way", async () => {
      const sized = [1, 200, 201, 1 << 20].map((size) => ({ hash: hash(`sized ${size}`), bytes: new Uint8Array(size).fill(size % 251) }))
      await backend.write({ values: sized })
      for (const value of sized) assert.deepEqual(await backend.getValue(value.hash), value.bytes, `${value.bytes.byteLength} bytes`)
      const content = await backend.readContent?.({ values: sized.map((v) => v.hash) })
      if (content !== undefined) assert.deepEqual(new Set(content.values?.map((v) => v.bytes.byteLength)), new Set([1, 200, 201, 1 << 20]))
      const big = sized[3] as { hash: string; bytes: Uint8Array }
      const call: CallRecord = {
        callHash: hash("call sized"),
        taskHash: hash("task inc"),
        argsHash: hash("sized 1"),
        valueHash: big.hash,
        children: [],
      }
      await backend.write({
        calls: [call],
        evaluations: [{ evalHash: hash("eval sized"), valueHash: big.hash, callHash: call.callHash, replayable: true }],
      })
      assert.deepEqual((await backend.loadEvaluations([hash("eval sized")])).get(hash("eval sized")), {
        valueHash: big.hash,
        bytes: big.bytes,
        callHash: call.callHash,
        replayable: true,
      })
      assert.deepEqual((await backend.loadCallTree?.(call.callHash))?.bytes, big.bytes)
    })

    it("reads a finished job's task and eval hash, and its evaluation's value, as written alongside its call node", async () => {
      const { batch, call } = finishedCall("compact")
      const derived = evalHashOf(call.taskHash, call.argsHash)
      const withContext = evalHashOf(call.taskHash, call.argsHash, hash("context"))
      const other = finishedCall("compact other").call
      await backend.write({
        ...batch,
        values: [...(batch.values ?? []), { hash: hash("an expression"), bytes: bytes(0xa1) }],
        calls: [call, other],
        executions: [execution("08COMPACT")],
        evaluations: [
          { evalHash: derived, valueHash: call.valueHash, callHash: call.callHash, replayable: true },
          // The value the task returned (an expression) is not its call node's final value.
          { evalHash: withContext, valueHash: hash("an expression"), callHash: other.callHash, replayable: false },
        ],
        jobs: [
          job("08COMPACT", 1, { status: "DONE", evalHash: derived, callHash: call.callHash, argsHash: call.argsHash }),
          job("08COMPACT", 2, { status: "DONE", evalHash: withContext, callHash: other.callHash, argsHash: other.argsHash }),
          // Its call node is not written with it.
          job("08COMPACT", 3, { status: "DONE", evalHash: hash("eval 08 3"), callHash: hash("call elsewhere"), argsHash: hash("args 3") }),
        ],
      })
      for (const jobs of [await backend.listJobs("08COMPACT"), (await backend.findJobs?.({ executionId: "08COMPACT" })) ?? []]) {
        assert.deepEqual(
          jobs.map((j) => [j.seq, j.taskHash, j.evalHash, j.taskName]),
          [
            [1, call.taskHash, derived, "inc"],
            [2, other.taskHash, withContext, "inc"],
            [3, hash("task inc"), hash("eval 08 3"), "inc"],
          ],
        )
      }
      const seqs = async (query: Parameters<NonNullable<Backend["findJobs"]>>[0]) =>
        ((await backend.findJobs?.(query)) ?? []).map((j) => j.seq)
      if (backend.findJobs !== undefined) {
        assert.deepEqual(await seqs({ evalHashPrefix: derived.slice(0, 12) }), [1])
        assert.deepEqual(await seqs({ evalHashPrefix: withContext }), [2])
        assert.deepEqual(await seqs({ executionId: "08COMPACT", taskName: "inc" }), [1, 2, 3])
      }
      assert.ok((await backend.listExecutions({ taskName: "inc" })).some((e) => e.id === "08COMPACT"))
      const found = await backend.loadEvaluations([derived, withContext])
      assert.deepEqual(found.get(derived), {
        valueHash: call.valueHash,
        bytes: bytes(0x18, 7, 7),
        callHash: call.callHash,
        replayable: true,
      })
      assert.deepEqual(found.get(withContext), {
        valueHash: hash("an expression"),
        bytes: bytes(0xa1),
        callHash: other.callHash,
        replayable: false,
      })
      if (backend.findJobs !== undefined) {
        // A later run of the same eval hash made another call (a new value): the job of the call
        // it replaced is still found by its eval hash, beside the new one, newest first.
        const again = { ...call, callHash: hash("call compact again"), valueHash: hash("value compact again") }
        await backend.write({
          values: [{ hash: again.valueHash, bytes: bytes(0x18, 8) }],
          calls: [again],
          executions: [execution("08LATER")],
          evaluations: [{ evalHash: derived, valueHash: again.valueHash, callHash: again.callHash, replayable: true }],
          jobs: [job("08LATER", 1, { status: "DONE", evalHash: derived, callHash: again.callHash, argsHash: call.argsHash })],
        })
        assert.deepEqual(
          ((await backend.findJobs?.({ evalHashPrefix: derived.slice(0, 12) })) ?? []).map((j) => [j.executionId, j.seq, j.evalHash]),
          [
            ["08LATER", 1, derived],
            ["08COMPACT", 1, derived],
          ],
        )
        assert.deepEqual(await seqs({ evalHashPrefix: derived, executionId: "08COMPACT", limit: 1 }), [1])
        assert.deepEqual(await seqs({ evalHashPrefix: derived, executionId: "08COMPACT", offset: 1 }), [])
      }
    })

    it("finds a job by eval-hash prefix among more jobs without their own eval hash than one page of them", async () => {
      // The SQL backends hash such jobs 20,000 at a time, in key order.
      const count = 20_003
      const calls = Array.from({ length: count }, (_, i) => ({
        callHash: hash(`paged call ${i}`),
        taskHash: hash("task inc"),
        argsHash: hash(`paged args ${i}`),
        valueHash: hash(`paged value ${i}`),
        children: [],
      }))
      const evalHashes = calls.map((call) => evalHashOf(call.taskHash, call.argsHash))
      await backend.write({
        executions: [execution("20PAGED")],
        calls,
        jobs: calls.map((call, i) =>
          job("20PAGED", i + 1, { status: "DONE", evalHash: evalHashes[i] as string, callHash: call.callHash, argsHash: call.argsHash }),
        ),
      })
      if (backend.findJobs !== undefined) {
        for (const seq of [1, 20_000, 20_001, count]) {
          const evalHash = evalHashes[seq - 1] as string
          const found = await backend.findJobs({ evalHashPrefix: evalHash.slice(0, 16) })
          assert.deepEqual(
            found.map((j) => [j.executionId, j.seq, j.evalHash]),
            [["20PAGED", seq, evalHash]],
          )
        }
      }
    })

    it("reads content rows back as a batch another backend can write", async () => {
      const { batch: written, call } = finishedCall("content", [hash("call content child")])
      // The cache entry with the call it reduced to, replayable: both are copied along.
      const batch = {
        ...written,
        evaluations: (written.evaluations ?? []).map((e) => ({ ...e, callHash: call.callHash, replayable: true })),
      }
      await backend.write({ ...batch, files: [{ path: "/c.txt", fileHash: hash("c"), callHash: call.callHash, role: "input" }] })
      const content = await backend.readContent?.({
        tasks: [hash("task inc"), hash("task none")],
        values: [call.argsHash, call.valueHash],
        evaluations: [hash("eval content")],
        calls: [call.callHash],
        filesOfCalls: [call.callHash],
      })
      assert.deepEqual(content?.tasks, batch.tasks)
      assert.deepEqual(
        [...(content?.values ?? [])].sort((a, b) => (a.hash < b.hash ? -1 : 1)),
        [...(batch.values ?? [])].sort((a, b) => (a.hash < b.hash ? -1 : 1)),
      )
      assert.deepEqual(content?.evaluations, batch.evaluations)
      assert.deepEqual(content?.calls, [call])
      assert.deepEqual(content?.files, [{ path: "/c.txt", fileHash: hash("c"), callHash: call.callHash, role: "input" }])
    })
  })
}

/**
 * Call edges as migration 0010 left them (one row per child, in `call_edge`), for the upgrade
 * tests: a parent with more children than the migration reads at a time (a page boundary falls
 * inside its edges), one with a single child, and the call nodes of both.
 */
export function edgesBefore0011(): {
  parents: { callHash: string; children: string[] }[]
  nodes: [Buffer, Buffer, Buffer, Buffer][]
  edges: [Buffer, number, Buffer][]
} {
  const parents = [
    { callHash: hash("parent wide"), children: Array.from({ length: 10_050 }, (_, i) => hash(`child ${i}`)) },
    { callHash: hash("parent narrow"), children: [hash("only child")] },
  ]
  const b = (hex: string) => Buffer.from(hex, "hex")
  return {
    parents,
    nodes: parents.map((p) => [b(p.callHash), b(hash("task")), b(hash(`args ${p.callHash}`)), b(hash(`value ${p.callHash}`))]),
    edges: parents.flatMap((p) => p.children.map((child, position): [Buffer, number, Buffer] => [b(p.callHash), position, b(child)])),
  }
}
