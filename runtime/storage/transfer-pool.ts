/**
 * @module transfer-pool
 * Bounded parallelism and retries for transfers: a FIFO semaphore (the S3 adapter's request and
 * stream slots), `mapLimit` (at most N items in flight), and `withRetries` (exponential backoff
 * with full jitter for failures that may pass: STORAGE_ERROR and TRANSFER_CORRUPT).
 */
import { isReductioError } from "../errors.js"

/** A counting semaphore with FIFO waiters. */
export class Slots {
  #free: number
  readonly #waiters: (() => void)[] = []

  constructor(readonly size: number) {
    this.#free = size
  }

  /** Resolves once a slot is held; call the returned function exactly once to give it back. */
  async take(): Promise<() => void> {
    if (this.#free > 0 && this.#waiters.length === 0) this.#free--
    else await new Promise<void>((resolve) => this.#waiters.push(resolve))
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiters.shift()
      if (next === undefined) this.#free++
      else next()
    }
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.take()
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

/**
 * Calls `fn` on every item with at most `limit` calls in flight; rejects with the first failure
 * once the calls in flight have settled (no new ones start after a failure).
 *
 * @example
 * await mapLimit(files, 16, (file) => file.copyTo(target))
 */
export async function mapLimit<T>(items: Iterable<T>, limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  const list = Array.isArray(items) ? (items as T[]) : [...items]
  let next = 0
  let failed = false
  let failure: unknown
  const worker = async () => {
    while (!failed && next < list.length) {
      const index = next++
      try {
        await fn(list[index] as T, index)
      } catch (error) {
        if (!failed) failure = error
        failed = true
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, list.length)) }, worker))
  if (failed) throw failure
}

/** How {@link withRetries} retries. */
export interface RetryOptions {
  /** Tries in all (default 3). */
  readonly attempts?: number
  /** First backoff in ms (default 200), doubled per try, with full jitter. */
  readonly baseMs?: number
}

/**
 * Runs `fn`, again after a backoff when it fails with a code that may pass (STORAGE_ERROR,
 * TRANSFER_CORRUPT); anything else, and the last failure, is thrown.
 *
 * @example
 * await withRetries(() => storage.download(uri, path))
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3)
  const base = options.baseMs ?? 200
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      const transient = isReductioError(error, "STORAGE_ERROR") || isReductioError(error, "TRANSFER_CORRUPT")
      if (!transient || attempt >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.random() * base * 2 ** (attempt - 1)))
    }
  }
}
