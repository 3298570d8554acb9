/**
 * @module visit-once
 * Bounds a walk over a value that may share parts or hold a cycle.
 */

/**
 * How many containers with containers inside a walk meets before it starts remembering them:
 * below that, a walk pays nothing; past it, each is walked once at most, so a cycle ends and a
 * shared part is not walked again and again (a walk stays linear, not exponential). Containers
 * of plain data only (a row) are never remembered: they cannot be on a cycle, and a million rows
 * then cost no set of a million entries.
 */
const REMEMBER_AFTER = 4096

/**
 * Tells a walk whether it walked into a container before, once it has walked into many.
 *
 * @example
 * const seen = new VisitOnce()
 * if (!seen.walked(item)) { pushChildren(item); if (pushedAnObject) seen.entered(item) }
 */
export class VisitOnce {
  #count = 0
  #seen: Set<object> | undefined

  /** True when the walk already went into `object` (remembered ones only). */
  walked(object: object): boolean {
    return this.#seen?.has(object) === true
  }

  /** Records that the walk went into `object`, which holds containers. */
  entered(object: object): void {
    if (this.#seen === undefined) {
      if (++this.#count <= REMEMBER_AFTER) return
      this.#seen = new Set()
    }
    this.#seen.add(object)
  }
}
