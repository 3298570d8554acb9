/**
 * @module token-bucket
 * One token bucket shared by every AWS Batch call of an executor: Batch throttles an account's
 * calls together (SubmitJob around 50 TPS, the rest sharing the budget), so a fan-out must not turn
 * into a burst of DescribeJobs. Waiters are served first come, first served. A throttled answer
 * pauses the whole bucket, so every caller backs off, not just the one that was refused.
 */

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second. */
  readonly ratePerSecond: number
  /** The most tokens held at once (calls allowed in a burst). */
  readonly burst: number
}

/**
 * @example
 * const bucket = new TokenBucket({ ratePerSecond: 5, burst: 10 })
 * await bucket.take()   // then make one call
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #updatedAt = Date.now()
  #pausedUntil = 0
  readonly #waiters: (() => void)[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(options: TokenBucketOptions) {
    this.#rate = Math.max(options.ratePerSecond, 0.001)
    this.#burst = Math.max(1, options.burst)
    this.#tokens = this.#burst
  }

  /** Resolves when a token is available and takes it. */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve)
      this.#serve()
    })
  }

  /** Nobody gets a token for `ms` milliseconds (after a throttled answer). */
  pause(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms)
    this.#tokens = Math.min(this.#tokens, 0)
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.#rate)
    this.#updatedAt = now
  }

  #serve(): void {
    if (this.#timer !== undefined) return
    const now = Date.now()
    this.#refill(now)
    while (this.#waiters.length > 0 && now >= this.#pausedUntil && this.#tokens >= 1) {
      this.#tokens -= 1
      this.#waiters.shift()?.()
    }
    if (this.#waiters.length === 0) return
    const untilToken = ((1 - this.#tokens) / this.#rate) * 1000
    const wait = Math.max(this.#pausedUntil - now, untilToken, 1)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#serve()
    }, wait)
  }
}
