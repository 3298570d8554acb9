/**
 * @module sqlite-leases
 * Call leases on SQLite, through the driver's statements directly. A claim is one INSERT … ON CONFLICT DO
 * UPDATE … RETURNING: a write statement takes the write lock before it reads, so its check for an
 * evaluation and its insert see the same, latest state, and no other writer slips in between.
 * Only the calls it did not get are read back (who holds them). A batch's lease release and
 * renewal run inside the batch's own transaction. Hashes travel as one JSON array per statement.
 */
import type { LeaseClaim, LeaseClaims, LeaseUpdate } from "./backend.js"
import { checkHash } from "./sql-rows.js"
import type { SqliteConnection, SqliteStatement } from "./sqlite-driver.js"

const HASHES = "select unhex(value) from json_each(?)"
const LEASES = `select lower(hex(eval_hash)), holder, expires_at from call_lease where eval_hash in (${HASHES})`
const conflict =
  "on conflict (eval_hash) do update set holder = excluded.holder, expires_at = excluded.expires_at, " +
  "taken_from = case when call_lease.holder = excluded.holder then call_lease.taken_from else call_lease.holder end " +
  "where call_lease.expires_at < ? or call_lease.holder = excluded.holder returning lower(hex(eval_hash)), taken_from"
// The WHERE after the SELECT also keeps SQLite from reading ON CONFLICT as part of a join.
const CLAIM_UNLESS_EVALUATED = `insert into call_lease (eval_hash, holder, expires_at) select unhex(j.value), ?, ? from json_each(?) j where not exists (select 1 from evaluation e where e.eval_hash = unhex(j.value)) ${conflict}`
const CLAIM = `insert into call_lease (eval_hash, holder, expires_at) select unhex(j.value), ?, ? from json_each(?) j where true ${conflict}`

export type LeaseRow = [evalHash: string, holder: string, expiresAt: number]

/** Prepared statements of one connection. */
export function sqliteLeases(database: () => SqliteConnection) {
  const statements = new Map<string, SqliteStatement>()
  const prepared = (text: string) => {
    let statement = statements.get(text)
    if (statement === undefined) statements.set(text, (statement = database().prepare(text)))
    return statement
  }

  return {
    /** See {@link Backend.claimLeases}. */
    claim(claim: LeaseClaim): LeaseClaims {
      const checked = claim.evalHashes.map(checkHash)
      const statement = prepared(claim.unlessEvaluated === false ? CLAIM : CLAIM_UNLESS_EVALUATED)
      const rows = statement.arrays([claim.holder, claim.expiresAt, JSON.stringify(checked), claim.now]) as [string, string | null][]
      const claimed: string[] = []
      const takenOver = new Map<string, string>()
      for (const [evalHash, from] of rows) {
        claimed.push(evalHash)
        if (from !== null) takenOver.set(evalHash, from)
      }
      const held = new Map<string, { holder: string; expiresAt: number }>()
      if (claimed.length < checked.length) {
        const got = new Set(claimed)
        const rest = checked.filter((evalHash) => !got.has(evalHash))
        for (const [evalHash, holder, expiresAt] of prepared(LEASES).arrays([JSON.stringify(rest)]) as LeaseRow[]) {
          if (holder !== claim.holder) held.set(evalHash, { holder, expiresAt: Number(expiresAt) })
        }
      }
      return { claimed, takenOver, held }
    },
    /** Applies a batch's lease release and renewal; call it inside the batch's transaction. */
    apply(update: LeaseUpdate): void {
      if (update.acquire !== undefined && update.acquire.evalHashes.length > 0) {
        prepared(
          `insert into call_lease (eval_hash, holder, expires_at) select unhex(value), ?, ? from json_each(?) where true on conflict do nothing`,
        ).run([update.holder, update.acquire.expiresAt, JSON.stringify(update.acquire.evalHashes.map(checkHash))])
      }
      if (update.release === "all") {
        prepared("delete from call_lease where holder = ?").run([update.holder])
        return
      }
      if (update.release !== undefined && update.release.length > 0) {
        prepared(`delete from call_lease where holder = ? and eval_hash in (${HASHES})`).run([
          update.holder,
          JSON.stringify(update.release.map(checkHash)),
        ])
      }
      if (update.renewUntil !== undefined)
        prepared("update call_lease set expires_at = ? where holder = ?").run([update.renewUntil, update.holder])
    },
    clear(): void {
      statements.clear()
    },
  }
}

/** Claims from the leases before and after a claim's insert. */
export function claimsOf(holder: string, before: readonly LeaseRow[], after: readonly LeaseRow[]): LeaseClaims {
  const previous = new Map(before.map(([evalHash, owner]) => [evalHash, owner]))
  const claimed: string[] = []
  const takenOver = new Map<string, string>()
  const held = new Map<string, { holder: string; expiresAt: number }>()
  for (const [evalHash, owner, expiresAt] of after) {
    if (owner !== holder) {
      held.set(evalHash, { holder: owner, expiresAt: Number(expiresAt) })
      continue
    }
    claimed.push(evalHash)
    const from = previous.get(evalHash)
    if (from !== undefined && from !== holder) takenOver.set(evalHash, from)
  }
  return { claimed, takenOver, held }
}
