/**
 * @module stat-scope
 * Within one execution, what reductio learns of a remote object's hash is learnt once: the
 * scheduler runs each execution in a scope, and a File's HEAD, a Dir's listing or a write's answer
 * is shared by every later hash check, staging and lineage record of that execution. An agent
 * process is one job, so there the whole process is the scope. Outside any scope nothing is
 * shared: every check asks storage again, as a plain script expects.
 *
 * The scope is the process's one running execution, found without AsyncLocalStorage: on Node 20
 * an AsyncLocalStorage store makes every promise in the process pay an async hook (about a tenth
 * of the scheduler's allocations per call, measured on a fan-out of 100,000). While two or more
 * executions run at once in one process (an embedding app), none shares: each check asks storage
 * again, which is slower but never wrong.
 *
 * Only remote (S3) objects are shared: a local stat costs no request, and a local file may be
 * rewritten by a tool between two looks without reductio knowing.
 */

/** What one execution learnt: hashes of remote Files and Dirs by URI. */
export interface StatScope {
  readonly hashes: Map<string, Promise<string>>
  open: boolean
}

interface ScopeState {
  /** The scopes of the executions running now. */
  readonly running: Set<StatScope>
  readonly process: StatScope
}

// Shared by every copy of the kernel in a process (the host's and a bundle's).
const KEY = Symbol.for("reductio.statScopes")
const MODE_KEY = Symbol.for("reductio.mode")
const globals = globalThis as unknown as Record<symbol, unknown>
const state = (globals[KEY] ??= {
  running: new Set(),
  process: { hashes: new Map(), open: true },
} satisfies ScopeState) as ScopeState

/**
 * Runs `fn` in a new scope, closed (and emptied) when it settles.
 *
 * @example
 * const value = await withStatScope(() => execution.reduce(expression, null))
 */
export async function withStatScope<T>(fn: () => Promise<T>): Promise<T> {
  const scope: StatScope = { hashes: new Map(), open: true }
  state.running.add(scope)
  try {
    return await fn()
  } finally {
    state.running.delete(scope)
    scope.open = false
    scope.hashes.clear()
  }
}

/** The one running execution's scope; undefined when none runs, or more than one. */
function soleRunning(): StatScope | undefined {
  if (state.running.size !== 1) return undefined
  for (const scope of state.running) return scope
  return undefined
}

/** The scope whose knowledge may be used now, if any. */
export function activeScope(): StatScope | undefined {
  if (state.running.size > 0) return soleRunning()
  return globals[MODE_KEY] === "agent" ? state.process : undefined
}

/** The scope a hash learnt now belongs to (the process's outside a sole execution). */
export function scopeNow(): StatScope {
  return soleRunning() ?? state.process
}

/**
 * The hash of `uri` in the active scope: computed once by `compute` and shared; a failure is not
 * kept. Outside a scope, `compute` runs every time.
 */
export function sharedHash(uri: string, compute: () => Promise<string>): Promise<string> {
  const scope = activeScope()
  if (scope === undefined) return compute()
  let known = scope.hashes.get(uri)
  if (known === undefined) {
    known = compute()
    scope.hashes.set(uri, known)
    known.catch(() => {
      if (scope.hashes.get(uri) === known) scope.hashes.delete(uri)
    })
  }
  return known
}

/** Records what the active scope now knows of `uri` (after a write, a stat or a listing). */
export function rememberHash(uri: string, hash: string): void {
  activeScope()?.hashes.set(uri, Promise.resolve(hash))
}

/** The hash the active scope knows for `uri`, without asking storage. */
export function knownHash(uri: string): Promise<string> | undefined {
  return activeScope()?.hashes.get(uri)
}
