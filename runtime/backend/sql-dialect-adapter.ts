/**
 * @module sql-dialect-adapter
 * The seam between the shared SQL backend (kysely-backend.ts) and one database: what SQLite and
 * Postgres each contribute (connecting, guarding a migration, faster paths, error mapping).
 */
import type { CompiledQuery, Kysely, RawBuilder } from "kysely"
import type { ExpectedCall, LeaseClaim, LeaseClaims, WriteBatch } from "./backend.js"
import type { Database, SqlDialectName } from "./schema.js"

/** What one SQL database contributes to a {@link KyselyBackend}. */
export interface SqlDialectAdapter {
  readonly name: SqlDialectName
  /** For messages; never holds a password. */
  readonly description: string
  /** The most bound parameters one statement may carry. */
  readonly maxParameters: number
  /** Connects (and checks the database can be read); fails with a DB_* ReductioError. */
  connect(): Promise<Kysely<Database>>
  /** True when the kysely migration table exists. */
  migrationTableExists(db: Kysely<Database>): Promise<boolean>
  /** Runs the migration step so it applies whole or not at all, excluding other migrators. */
  guardMigration(db: Kysely<Database>, migrate: () => Promise<void>): Promise<void>
  /**
   * Runs a compiled query and returns its rows as arrays in select order, where the driver does
   * that faster than objects (10,000 jobs for `reductio log`); else kysely runs it.
   */
  selectArrays?(query: CompiledQuery): Promise<unknown[][]>
  /** Writes a batch (with its lease release and renewal) in one transaction, faster than kysely could; else kysely writes. */
  writeBatch?(batch: WriteBatch): void | Promise<void>
  /** See {@link Backend.claimLeases}: atomic as this database allows (sqlite-leases.ts, postgres-leases.ts). */
  claimLeases(claim: LeaseClaim): Promise<LeaseClaims>
  /**
   * Answers a batch of cache lookups without the query builder: `[evalHash, ownValueHash,
   * nodeValueHash, nodeValueBytes, storedBytes, callHash, replayable]` rows, hex hashes empty or
   * null when absent, from which the caller picks the value (evaluationValue in
   * kysely-call-graph.ts). Deep recursions look up one hash at a time, so per-query cost matters.
   */
  lookupEvaluations?(
    evalHashes: readonly string[],
  ): [
    evalHash: string,
    ownValueHash: string | null,
    nodeValueHash: string | null,
    nodeValueBytes: Uint8Array | null,
    storedBytes: Uint8Array | null,
    callHash: string | null,
    replayable: number | null,
  ][]
  /** See {@link Backend.unreplayableCalls}, compared in one statement: the failing indexes. */
  unreplayableCalls?(calls: readonly ExpectedCall[]): number[]
  /** Every hash in `hashes` as a condition on a hash column (one parameter where the database allows). */
  hashIn(column: string, hashes: readonly string[]): RawBuilder<boolean>
  /**
   * A hash column as lowercase hex, computed by the database: reading 10,000 jobs then makes no
   * Buffer per hash. A null hash may come back as null or "".
   */
  hex(column: string): RawBuilder<string | null>
  /** An aggregate joining a group's texts with commas, in no particular order (`group_concat`, `string_agg`). */
  joinText(text: RawBuilder<string>): RawBuilder<string>
  /** A driver error during normal use as a ReductioError (or as it is). */
  translateError(error: unknown): unknown
  /** Releases what `connect` made beyond the kysely instance. */
  close?(): void
}
