/**
 * @module postgres-leases
 * Call leases on Postgres. A claim is one statement (the leases as they were, the insert-or-take-
 * over, and what it got), then, for what it claimed, a second statement that looks for an
 * evaluation: under READ COMMITTED a statement's check runs on the snapshot it started with, so a
 * host whose batch recorded the evaluation (and released its lease) while the claim waited on
 * that lease's row lock would otherwise be missed. For the same reason a claim that waited on a
 * lease another host was inserting sees neither that lease nor the call: it claims such calls
 * again. A batch's release and renewal are CTEs of the batch's own statement (see
 * postgres-backend.ts).
 */
import type pg from "pg"
import type { LeaseClaim, LeaseClaims, LeaseUpdate } from "./backend.js"
import { checkHash } from "./sql-rows.js"
import { claimsOf, type LeaseRow } from "./sqlite-leases.js"

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

/** How often a claim is sent again for calls it neither got nor saw held, before it reports them held. */
const CLAIM_ATTEMPTS = 5

/** The holder named for a lease a claim could not see after {@link CLAIM_ATTEMPTS} (another host's). */
const UNSEEN_HOLDER = "another host"

/**
 * See {@link Backend.claimLeases}. A claim whose insert waited on another host's uncommitted
 * lease does not get the call, yet its statement's snapshot shows no lease either: such a call
 * (with no evaluation) is claimed again, and the next statement sees the lease as committed.
 * Taking it as evaluated instead would send the caller back to a cache that has nothing yet.
 */
export async function claimPostgresLeases(
  pool: pg.Pool,
  claim: LeaseClaim,
  retry: <T>(run: () => Promise<T>) => Promise<T>,
): Promise<LeaseClaims> {
  const query: Query = (text, values) => retry(() => pool.query(text, values))
  const force = claim.unlessEvaluated === false
  const evaluated = async (hashes: readonly string[]) =>
    new Set(((await query(EVALUATED, [hashes])).rows as { eval_hash: string }[]).map((row) => row.eval_hash))
  const before: LeaseRow[] = []
  let won: string[] = []
  let unresolved = claim.evalHashes.map(checkHash)
  for (let attempt = 1; unresolved.length > 0; attempt++) {
    const { rows } = (await query(CLAIM, [unresolved, claim.holder, claim.expiresAt, claim.now, force])) as { rows: ClaimRow[] }
    const unseen: string[] = []
    for (const row of rows) {
      if (row.claimed) won.push(row.eval_hash)
      if (row.prior_holder !== null) before.push([row.eval_hash, row.prior_holder, Number(row.prior_expires_at)])
      else if (!row.claimed) unseen.push(row.eval_hash)
    }
    // Not claimed and no lease seen: an evaluation kept it from being claimed, or a lease committed meanwhile.
    const recorded = unseen.length === 0 || force ? new Set<string>() : await evaluated(unseen)
    unresolved = unseen.filter((evalHash) => !recorded.has(evalHash))
    if (attempt === CLAIM_ATTEMPTS) {
      // Reported held until now: the caller polls again at once.
      for (const evalHash of unresolved) before.push([evalHash, UNSEEN_HOLDER, claim.now])
      break
    }
  }
  if (won.length > 0 && !force) {
    const recorded = await evaluated(won)
    if (recorded.size > 0) {
      await query(RELEASE, [claim.holder, [...recorded]])
      won = won.filter((evalHash) => !recorded.has(evalHash))
    }
  }
  const claimedSet = new Set(won)
  const after = [
    ...won.map((evalHash): LeaseRow => [evalHash, claim.holder, claim.expiresAt]),
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
