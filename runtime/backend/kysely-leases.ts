/**
 * @module kysely-leases
 * The SQL backends' side of killed hosts and overlapping runs, where one query serves both
 * databases: marking executions whose lease expired ABANDONED, and applying a batch's lease
 * release and renewal on the generic (kysely) write path. Claiming leases is per database
 * (sqlite-leases.ts, postgres-leases.ts): each needs its own way to be atomic.
 */
import { type Kysely, type Transaction, sql } from "kysely"
import { ABANDONED_MESSAGE, LEGACY_EXECUTION_LEASE_MS, type LeaseUpdate } from "./backend.js"
import type { Database } from "./schema.js"
import { chunks, hashToBuffer } from "./sql-rows.js"

/** Ids per statement when abandoning (well under both databases' parameter limits). */
const IDS_PER_STATEMENT = 500

/** See {@link Backend.abandonStaleExecutions}. */
export async function abandonStaleExecutions(db: Kysely<Database>, now: number): Promise<string[]> {
  const legacyStart = now - LEGACY_EXECUTION_LEASE_MS
  // A read first: on almost every call nothing is stale, and then nothing is written.
  const stale = await db
    .selectFrom("execution")
    .select("id")
    .where("status", "=", "RUNNING")
    .where((eb) =>
      eb.or([eb("lease_expires_at", "<", now), eb.and([eb("lease_expires_at", "is", null), eb("started_at", "<", legacyStart)])]),
    )
    .execute()
  if (stale.length === 0) return []
  return db.transaction().execute(async (trx) => {
    const abandoned: string[] = []
    for (const ids of chunks(
      stale.map((row) => row.id),
      IDS_PER_STATEMENT,
    )) {
      // Checked again as it is written: a host that renewed meanwhile is alive.
      const rows = await trx
        .updateTable("execution")
        .set({
          status: "ABANDONED",
          ended_at: sql<number>`coalesce(lease_expires_at, ${now})`,
          error: ABANDONED_MESSAGE,
        })
        .where("id", "in", ids)
        .where("status", "=", "RUNNING")
        .where((eb) =>
          eb.or([eb("lease_expires_at", "<", now), eb.and([eb("lease_expires_at", "is", null), eb("started_at", "<", legacyStart)])]),
        )
        .returning("id")
        .execute()
      for (const row of rows) abandoned.push(row.id)
    }
    for (const ids of chunks(abandoned, IDS_PER_STATEMENT)) {
      await trx
        .updateTable("job")
        // Milliseconds after the job's creation (migration 0013).
        .set({ status: "ABANDONED", ended_at: sql<number>`${now} - created_at` })
        .where("execution_id", "in", ids)
        .where("status", "in", ["PENDING", "RUNNING", "WAITING"])
        .execute()
      await trx.deleteFrom("call_lease").where("holder", "in", ids).execute()
    }
    return abandoned
  })
}

/** A batch's lease release and renewal, in its transaction (the generic write path). */
export async function applyLeaseUpdate(trx: Transaction<Database>, update: LeaseUpdate, maxParameters: number): Promise<void> {
  const { holder } = update
  for (const hashes of chunks(update.acquire?.evalHashes ?? [], Math.floor(maxParameters / 3))) {
    const expiresAt = update.acquire?.expiresAt ?? 0
    await trx
      .insertInto("call_lease")
      .values(hashes.map((evalHash) => ({ eval_hash: hashToBuffer(evalHash), holder, expires_at: expiresAt })))
      .onConflict((conflict) => conflict.doNothing())
      .execute()
  }
  if (update.release === "all") {
    await trx.deleteFrom("call_lease").where("holder", "=", update.holder).execute()
    return
  }
  for (const hashes of chunks(update.release ?? [], maxParameters - 1)) {
    await trx.deleteFrom("call_lease").where("holder", "=", update.holder).where("eval_hash", "in", hashes.map(hashToBuffer)).execute()
  }
  if (update.renewUntil !== undefined) {
    await trx.updateTable("call_lease").set({ expires_at: update.renewUntil }).where("holder", "=", update.holder).execute()
  }
}
