/**
 * Postgres for tests: REDUCTIO_TEST_POSTGRES_URL names a server (e.g.
 * postgres://postgres@127.0.0.1:5432/test) on which each test file creates its own database,
 * `reductio_test_<random>`, and drops it afterwards, so parallel test files never collide.
 * Without the variable the Postgres suites are skipped with a reason, except under CI=true,
 * where a missing server is a failure.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"

/** The server's URL, when configured. */
export const postgresUrl: string | undefined = process.env.REDUCTIO_TEST_POSTGRES_URL || undefined

/**
 * Why the Postgres suites do not run (a string for `describe`'s `skip`), or false when they do.
 * Throws under CI when the server is not configured, so CI cannot pass without testing Postgres.
 */
export function postgresSkipReason(): string | false {
  if (postgresUrl !== undefined) return false
  if (process.env.CI === "true") {
    throw new Error("REDUCTIO_TEST_POSTGRES_URL is not set but CI=true: the Postgres backend must be tested in CI")
  }
  const reason = "Postgres tests did not run: set REDUCTIO_TEST_POSTGRES_URL=postgres://user@host:5432/db to run them"
  console.error(`# ${reason}`)
  return reason
}

/** A fresh database on the test server; `drop` removes it (closing its connections). */
export interface TestDatabase {
  readonly url: string
  drop(): Promise<void>
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (postgresUrl === undefined) throw new Error("REDUCTIO_TEST_POSTGRES_URL is not set")
  const name = `reductio_test_${randomBytes(6).toString("hex")}`
  await admin(`create database ${name}`)
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => admin(`drop database if exists ${name} with (force)`),
  }
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}
