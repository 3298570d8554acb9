/**
 * @module array-grouping
 * Collects submitted calls into groups that can share one array job: same job definition, same
 * resources, same timeout. A group goes out when the scheduler reports it has no more ready work
 * (`flushAll`), when it reaches the largest array size, or after a maximum delay (a backstop for a
 * scheduler that keeps finding work): never after a fixed wait when nothing else is coming.
 */

/** Options of a {@link Grouper}. */
export interface GrouperOptions<T> {
  /** Largest group (AWS: 10,000 children per array). */
  readonly maxSize: number
  /** Longest a call waits for `flushAll`, in ms. */
  readonly maxDelayMs: number
  /** Receives each group, in submission order. */
  readonly flush: (key: string, items: T[]) => void
}

/** Largest array AWS Batch accepts. */
export const MAX_ARRAY_SIZE = 10_000

/**
 * @example
 * const grouper = new Grouper({ maxSize: 10_000, maxDelayMs: 2_000, flush: (key, calls) => submitGroup(key, calls) })
 * grouper.add(keyOf(call), call)
 * grouper.flushAll()   // on the scheduler's idle()
 */
export class Grouper<T> {
  readonly #groups = new Map<string, T[]>()
  #timer: NodeJS.Timeout | undefined

  constructor(private readonly options: GrouperOptions<T>) {}

  add(key: string, item: T): void {
    let group = this.#groups.get(key)
    if (group === undefined) {
      group = []
      this.#groups.set(key, group)
    }
    group.push(item)
    if (group.length >= Math.min(this.options.maxSize, MAX_ARRAY_SIZE)) {
      this.#groups.delete(key)
      this.options.flush(key, group)
    }
    if (this.#groups.size > 0) this.#timer ??= setTimeout(() => this.flushAll(), this.options.maxDelayMs)
  }

  /** Removes an item not flushed yet (a cancelled call); false when it already went out. */
  remove(key: string, item: T): boolean {
    const group = this.#groups.get(key)
    const index = group?.indexOf(item) ?? -1
    if (group === undefined || index < 0) return false
    group.splice(index, 1)
    if (group.length === 0) this.#groups.delete(key)
    return true
  }

  /** Sends every group now. */
  flushAll(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const groups = [...this.#groups]
    this.#groups.clear()
    for (const [key, items] of groups) this.options.flush(key, items)
  }

  /** Drops every pending item and returns them. */
  drain(): T[] {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const items = [...this.#groups.values()].flat()
    this.#groups.clear()
    return items
  }
}
