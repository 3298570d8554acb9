/**
 * @module lease-batcher
 * Call leases between hosts sharing one database.
 *
 * An execution that finds no other running execution when it starts runs *alone*: it writes no
 * lease, only remembers the calls it is running, and looks for other executions every heartbeat
 * interval. When one appears it *shares*: the calls it is running get their leases in one batch
 * that also records it as leasing, and every call after is claimed. An execution that shares
 * claims nothing until every execution running alone has switched (or its lease expired), so no
 * call another one runs unleased can be claimed.
 *
 * Sharing, claims are batched like cache lookups: every claim made while this turn's promise
 * continuations run goes to the backend as one `claimLeases`. A call another execution holds
 * waits here: one timer polls every waiting call in one claim (from 100 ms, doubling while nothing
 * changes, to at most 2 s or the earliest expiry of what it waits on), until the holder records
 * the result (the call is then looked up again) or its lease expires (taken over).
 */
import type { Backend, LeaseClaims } from "../backend/backend.js"
import type { Recorder } from "./recorder.js"

/** How a claim ended: the execution holds the lease, another recorded the result, or the run was cancelled. */
export type ClaimOutcome = "claimed" | "evaluated" | "cancelled"

/** Options of a {@link LeaseBatcher}. */
export interface LeaseBatcherOptions {
  /** The execution claiming. */
  readonly holder: string
  /** How long a lease lasts before it must be renewed (the heartbeat renews them). */
  readonly expiryMs: number
  /** How often an execution running alone looks for others. */
  readonly intervalMs: number
  /** Writes the leases of calls started alone, and the releases. */
  readonly recorder: Pick<Recorder, "startLeasing" | "releaseLease">
  readonly signal: AbortSignal
  /** Tells the user what the execution waits on or took over. */
  readonly log: (message: string) => void
  /** Called when a batch of claims has been answered (the scheduler may then go idle). */
  readonly onSettled: () => void
  readonly maxBatch?: number
}

interface Waiter {
  readonly unlessEvaluated: boolean
  readonly resolve: (outcome: ClaimOutcome) => void
  readonly reject: (error: unknown) => void
}

const FIRST_POLL_MS = 100
const MAX_POLL_MS = 2_000

export class LeaseBatcher {
  #alone = false
  #stopped = false
  /** Calls claimed while running alone (no lease written), until released. */
  readonly #running = new Set<string>()
  #watch: NodeJS.Timeout | undefined
  /** While sharing has begun but executions running alone have not switched yet. */
  #gate: Promise<void> | undefined
  #gateWaiters = 0
  #pending = new Map<string, Waiter>()
  #scheduled = false
  #inFlight = 0
  readonly #waiting = new Map<string, Waiter>()
  #pollTimer: NodeJS.Timeout | undefined
  #pollDelay = FIRST_POLL_MS
  #earliestExpiry = Number.POSITIVE_INFINITY
  readonly #knownHolders = new Set<string>()

  constructor(
    private readonly backend: Pick<Backend, "claimLeases" | "runningExecutions">,
    private readonly options: LeaseBatcherOptions,
  ) {
    options.signal.addEventListener("abort", () => this.#cancelWaiting(), { once: true })
  }

  /** True while claims are queued or being answered (not while calls wait on another host). */
  get busy(): boolean {
    return this.#pending.size > 0 || this.#inFlight > 0
  }

  /** Runs alone, or shares, as the executions running now say; call once this one's row is written. */
  async start(): Promise<void> {
    if (await this.#othersRunning()) {
      this.#share()
      return
    }
    this.#alone = true
    this.#watch = setInterval(() => {
      void this.#othersRunning().then(
        (others) => {
          if (others && this.#alone) this.#share()
        },
        () => undefined,
      )
    }, this.options.intervalMs)
    this.#watch.unref()
  }

  /** Stops looking for other executions and waiting on them (the execution ended). */
  stop(): void {
    this.#stopped = true
    this.#stopWatching()
    this.#cancelWaiting()
  }

  #stopWatching(): void {
    if (this.#watch !== undefined) clearInterval(this.#watch)
    this.#watch = undefined
  }

  /** Gives up a call's lease once its evaluation (or its failure) is recorded. */
  release(evalHash: string): void {
    if (this.#alone) this.#running.delete(evalHash)
    else this.options.recorder.releaseLease(evalHash)
  }

  async #othersRunning(): Promise<boolean> {
    const running = (await this.backend.runningExecutions?.(Date.now())) ?? []
    return running.some((execution) => execution.id !== this.options.holder)
  }

  #share(): void {
    this.#stopWatching()
    this.#alone = false
    this.options.recorder.startLeasing(this.#running)
    this.#running.clear()
    // A failing backend opens the gate: the claims behind it then report the failure.
    const gate = this.#untilNoneAlone()
      .catch(() => undefined)
      .finally(() => {
        if (this.#gate === gate) this.#gate = undefined
      })
    this.#gate = gate
  }

  /** Resolves once no other running execution runs alone (they see this one and switch). */
  async #untilNoneAlone(): Promise<void> {
    let delay = FIRST_POLL_MS
    const told = new Set<string>()
    while (!this.options.signal.aborted && !this.#stopped) {
      const running = (await this.backend.runningExecutions?.(Date.now())) ?? []
      const alone = running.filter((execution) => execution.id !== this.options.holder && execution.callLeases === false)
      if (alone.length === 0) return
      for (const { id } of alone) {
        // Said only where a call of this run is held up.
        if (this.#gateWaiters > 0 && !told.has(id)) {
          this.options.log(`waiting for execution ${id}, which ran alone so far, to take call leases`)
          told.add(id)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay = Math.min(delay * 2, MAX_POLL_MS)
    }
  }

  /**
   * Claims the lease of one call. `unlessEvaluated` false: claim even though an evaluation exists
   * (the caller found it unusable). Each eval hash is claimed by one caller at a time.
   */
  claim(evalHash: string, unlessEvaluated = true): Promise<ClaimOutcome> {
    if (this.options.signal.aborted) return Promise.resolve("cancelled")
    if (this.#alone) {
      this.#running.add(evalHash)
      return Promise.resolve("claimed")
    }
    if (this.#gate !== undefined) {
      this.#gateWaiters++
      return this.#gate.then(() => {
        this.#gateWaiters--
        return this.claim(evalHash, unlessEvaluated)
      })
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(evalHash, { unlessEvaluated, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // Claims follow cache misses, which a lookup batch answers all at once: a tick queued now
        // runs once every promise continuation of this turn has run, so it gathers all of them
        // without waiting for the next turn of the event loop.
        process.nextTick(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const batch = this.#pending
    this.#pending = new Map()
    const maxBatch = this.options.maxBatch ?? 5_000
    for (const unlessEvaluated of [true, false]) {
      const keys = [...batch].filter(([, waiter]) => waiter.unlessEvaluated === unlessEvaluated).map(([key]) => key)
      for (let start = 0; start < keys.length; start += maxBatch) this.#send(keys.slice(start, start + maxBatch), batch, unlessEvaluated)
    }
  }

  #send(evalHashes: string[], waiters: ReadonlyMap<string, Waiter>, unlessEvaluated: boolean): void {
    this.#inFlight++
    this.#claim(evalHashes, unlessEvaluated).then(
      (claims) => {
        this.#inFlight--
        this.#settle(evalHashes, waiters, claims)
        // Claimed calls are submitted and evaluated ones looked up, and either tells the
        // scheduler when it may go idle; calls that now wait on another host do not.
        if (claims.held.size > 0) this.options.onSettled()
      },
      (error: unknown) => {
        this.#inFlight--
        for (const key of evalHashes) waiters.get(key)?.reject(error)
        this.options.onSettled()
      },
    )
  }

  async #claim(evalHashes: readonly string[], unlessEvaluated: boolean): Promise<LeaseClaims> {
    const claim = this.backend.claimLeases
    if (claim === undefined) return { claimed: evalHashes, takenOver: new Map(), held: new Map() }
    const now = Date.now()
    return claim.call(this.backend, {
      holder: this.options.holder,
      evalHashes,
      now,
      expiresAt: now + this.options.expiryMs,
      unlessEvaluated,
    })
  }

  /** Resolves what was claimed or evaluated; the rest waits for the next poll. */
  #settle(evalHashes: readonly string[], waiters: ReadonlyMap<string, Waiter>, claims: LeaseClaims): void {
    const claimed = new Set(claims.claimed)
    const cancelled = this.options.signal.aborted || this.#stopped
    let changed = false
    for (const evalHash of evalHashes) {
      const waiter = waiters.get(evalHash)
      if (waiter === undefined) continue
      const held = claims.held.get(evalHash)
      if (held !== undefined && !cancelled) {
        this.#waiting.set(evalHash, waiter)
        this.#earliestExpiry = Math.min(this.#earliestExpiry, held.expiresAt)
        this.#noteHolder(held.holder)
        continue
      }
      this.#waiting.delete(evalHash)
      changed = true
      waiter.resolve(cancelled ? "cancelled" : claimed.has(evalHash) ? "claimed" : "evaluated")
    }
    this.#reportTakeovers(claims.takenOver)
    if (changed) this.#pollDelay = FIRST_POLL_MS
    this.#schedulePoll()
  }

  #noteHolder(holder: string): void {
    if (this.#knownHolders.has(holder)) return
    this.#knownHolders.add(holder)
    this.options.log(`execution ${holder} is running calls this run needs; waiting for their results`)
  }

  #reportTakeovers(takenOver: ReadonlyMap<string, string>): void {
    if (takenOver.size === 0) return
    const byHolder = new Map<string, number>()
    for (const holder of takenOver.values()) byHolder.set(holder, (byHolder.get(holder) ?? 0) + 1)
    for (const [holder, count] of byHolder)
      this.options.log(`took over ${count} call(s) from execution ${holder}, whose lease expired (its host stopped)`)
  }

  #schedulePoll(): void {
    if (this.#waiting.size === 0 || this.#pollTimer !== undefined || this.options.signal.aborted || this.#stopped) return
    const untilExpiry = this.#earliestExpiry - Date.now() + 10
    const delay = Math.max(10, Math.min(this.#pollDelay, untilExpiry))
    this.#pollDelay = Math.min(this.#pollDelay * 2, MAX_POLL_MS)
    this.#pollTimer = setTimeout(() => this.#poll(), delay)
  }

  /** Claims every waiting call again, in one batch per 5,000. */
  #poll(): void {
    this.#pollTimer = undefined
    this.#earliestExpiry = Number.POSITIVE_INFINITY
    const waiting = new Map(this.#waiting)
    const keys = [...waiting.keys()]
    const maxBatch = this.options.maxBatch ?? 5_000
    // A waiting call is claimed only if no evaluation exists: the holder may have recorded one.
    for (let start = 0; start < keys.length; start += maxBatch) this.#send(keys.slice(start, start + maxBatch), waiting, true)
  }

  #cancelWaiting(): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer)
    this.#pollTimer = undefined
    for (const waiter of this.#waiting.values()) waiter.resolve("cancelled")
    this.#waiting.clear()
  }
}
