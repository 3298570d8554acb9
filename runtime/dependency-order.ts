/**
 * @module dependency-order
 * Orders the entries of an expression table so every entry comes after the entries it refers to,
 * with an explicit stack (a chain of 100,000 entries stays shallow), or finds a cycle.
 */

/** The order, or the first entry found on a cycle. */
export type DependencyOrder = { readonly order: Uint32Array } | { readonly cyclic: number }

/**
 * Orders `count` entries given `references` as flat pairs `[from, to, from, to, ...]` (entry
 * `from` refers to entry `to`; every number below `count`).
 *
 * @example
 * dependencyOrder(3, [0, 1, 1, 2]) // { order: [2, 1, 0] }
 */
export function dependencyOrder(count: number, references: readonly number[]): DependencyOrder {
  // Adjacency in compressed rows: the references of entry i are targets[start[i] .. start[i + 1]).
  const start = new Uint32Array(count + 1)
  for (let i = 0; i < references.length; i += 2) (start[(references[i] as number) + 1] as number)++
  for (let i = 0; i < count; i++) (start[i + 1] as number) += start[i] as number
  const targets = new Uint32Array(references.length / 2)
  const fill = start.slice(0, count)
  for (let i = 0; i < references.length; i += 2) targets[(fill[references[i] as number] as number)++] = references[i + 1] as number
  const state = new Uint8Array(count) // 0 new, 1 on the stack, 2 ordered
  const order = new Uint32Array(count)
  const stack = new Uint32Array(count)
  const next = new Uint32Array(count)
  let ordered = 0
  for (let root = 0; root < count; root++) {
    if (state[root] !== 0) continue
    let top = 0
    stack[0] = root
    next[root] = start[root] as number
    state[root] = 1
    while (top >= 0) {
      const entry = stack[top] as number
      if ((next[entry] as number) === start[entry + 1]) {
        state[entry] = 2
        order[ordered++] = entry
        top--
        continue
      }
      const target = targets[(next[entry] as number)++] as number
      if (state[target] === 1) return { cyclic: target }
      if (state[target] === 0) {
        state[target] = 1
        next[target] = start[target] as number
        stack[++top] = target
      }
    }
  }
  return { order }
}
