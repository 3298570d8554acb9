/**
 * @module postgres-leases
 * Call leases on Postgres. A claim is one statement (the leases as they were, the insert-or-take-
 * over, and what it got), then, for what it claimed, a second statement that looks for an
 * evaluation: under READ COMMITTED a statement's check runs on the snapshot it started with, so a
 * host whose batch recorded the evaluation (and released its lease) while the claim waited on
 * that lease's row lock would otherwise be missed. A batch's release and renewal are CTEs of the
 * batch's own statement (see postgres-backend.ts).
 */
import type pg from "pg"
import type { LeaseClaim, LeaseClaims, LeaseUpdate } from "./backend.js"
import { checkHash } from "./sql-rows.js"
import { claimsOf } from "./sqlite-leases.js"

const CLAIM = `
with input as (select distinct decode(h, 'hex') as eval_hash from unnest($1::text[]) as u(h)),
prior as (select l.eval_hash, l.holder, l.expires_at from call_lease l where l.eval_hash in (select eval_hash from input)),
claimed as (
  insert into call_lease (eval_hash, holder, expires_at)
  select i.eval_hash, $2, $3 from input i
  where $5 or not exists (select 1 from evaluation e where e.eval_hash = i.eval_hash)
  order by i.eval_hash
  on conflict (eval_hash) do update set holder = excluded.holder, expires_at = excluded.expires_at
  where call_lease.expires_at < $4 or call_lease.holder = excluded.holder
  returning eval_hash, holder, expires_at)
select encode(i.eval_hash, 'hex') as eval_hash, p.holder as prior_holder, p.expires_at as prior_expires_at,
  c.holder is not null as claimed
from input i left join prior p on p.eval_hash = i.eval_hash left join claimed c on c.eval_hash = i.eval_hash`

const EVALUATED =
  "select encode(eval_hash, 'hex') as eval_hash from evaluation where eval_hash in (select decode(h, 'hex') from unnest($1::text[]) as u(h))"
const RELEASE = "delete from call_lease where holder = $1 and eval_hash in (select decode(h, 'hex') from unnest($2::text[]) as u(h))"

interface ClaimRow {
  eval_hash: string
  prior_holder: string | null
  prior_expires_at: string | null
  claimed: boolean
}

type Query = (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>

/** See {@link Backend.claimLeases}. */
export async function claimPostgresLeases(
  pool: pg.Pool,
  claim: LeaseClaim,
  retry: <T>(run: () => Promise<T>) => Promise<T>,
): Promise<LeaseClaims> {
  const query: Query = (text, values) => retry(() => pool.query(text, values))
  const hashes = claim.evalHashes.map(checkHash)
  const { rows } = (await query(CLAIM, [hashes, claim.holder, claim.expiresAt, claim.now, claim.unlessEvaluated === false])) as {
    rows: ClaimRow[]
  }
  let won = rows.filter((row) => row.claimed).map((row) => row.eval_hash)
  if (won.length > 0 && claim.unlessEvaluated !== false) {
    const evaluated = new Set(((await query(EVALUATED, [won])).rows as { eval_hash: string }[]).map((row) => row.eval_hash))
    if (evaluated.size > 0) {
      await query(RELEASE, [claim.holder, [...evaluated]])
      won = won.filter((evalHash) => !evaluated.has(evalHash))
    }
  }
  const claimedSet = new Set(won)
  const before = rows.flatMap((row): [string, string, number][] =>
    row.prior_holder === null ? [] : [[row.eval_hash, row.prior_holder, Number(row.prior_expires_at)]],
  )
  const after = [
    ...won.map((evalHash): [string, string, number] => [evalHash, claim.holder, claim.expiresAt]),
    // Not claimed with a live holder before: still held by it.
    ...before.filter(([evalHash, holder]) => !claimedSet.has(evalHash) && holder !== claim.holder),
  ]
  return claimsOf(claim.holder, before, after)
}

/**
 * A batch's lease release and renewal as CTEs of its statement, with their parameters appended to
 * `values`. Renewal skips the released hashes, so no row is touched twice in one statement.
 */
export function leaseCtes(update: LeaseUpdate, values: unknown[]): string[] {
  values.push(update.holder)
  const holder = `$${values.length}`
  const ctes: string[] = []
  if (update.acquire !== undefined && update.acquire.evalHashes.length > 0) {
    values.push(update.acquire.evalHashes.map(checkHash), update.acquire.expiresAt)
    ctes.push(
      `lease_acquire as (insert into call_lease (eval_hash, holder, expires_at) select decode(h, 'hex'), ${holder}, $${values.length}::int8 from unnest($${values.length - 1}::text[]) as u(h) order by 1 on conflict do nothing)`,
    )
  }
  if (update.release === "all") return [...ctes, `lease_release as (delete from call_lease where holder = ${holder})`]
  const released = (update.release ?? []).map(checkHash)
  let hashes = "(select null::bytea where false)"
  if (released.length > 0) {
    values.push(released)
    hashes = `(select decode(h, 'hex') from unnest($${values.length}::text[]) as u(h))`
    ctes.push(`lease_release as (delete from call_lease where holder = ${holder} and eval_hash in ${hashes})`)
  }
  if (update.renewUntil !== undefined) {
    values.push(update.renewUntil)
    ctes.push(
      `lease_renewal as (update call_lease set expires_at = $${values.length}::int8 where holder = ${holder} and eval_hash not in ${hashes})`,
    )
  }
  if (ctes.length === 0) values.pop()
  return ctes
}
