/**
 * Transactions whose connection the server ends (`pg_terminate_backend`, as a restart or a
 * fail-over does): they reject with the connection's error, the process lives on (postgres.js
 * would write the next query, or its own ROLLBACK, to the socket it dropped, from a callback
 * where the error ends the process), and the pool answers again.
 *
 * @module
 */
import { assertEquals, assertRejects } from "../assert.ts";
import { connect, connectionLost, type Sql, transaction } from "../../src/store/pg/sql.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import { waitFor } from "../runner/support.ts";

if (postgresMissing !== null) {
  console.warn(`PostgreSQL transaction tests skipped: ${postgresMissing}`);
}

/** The tests below, run one after the other on one throwaway server. */
const cases: [string, (sql: Sql, admin: Sql) => Promise<void>][] = [];

/** A case with a pool on a fresh database, and a second pool to end its connections. */
function lostTest(name: string, fn: (sql: Sql, admin: Sql) => Promise<void>): void {
  cases.push([name, fn]);
}

/** Ends the server process of the connection with backend `pid`. */
async function terminate(admin: Sql, pid: number): Promise<void> {
  await admin`SELECT pg_terminate_backend(${pid})`;
}

lostTest(
  "a transaction whose query is cut off rejects: no ROLLBACK is sent",
  async (sql, admin) => {
    const error = await assertRejects(() =>
      transaction(sql, async (tx) => {
        const [{ pid }] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        const sleeping = tx`SELECT pg_sleep(30)`;
        await terminate(admin, pid);
        await sleeping;
      })
    );
    assertEquals(connectionLost(error), true, String(error));
  },
);

lostTest(
  "a transaction whose connection ends while it waits for something else rejects: its next " +
    "query is not sent",
  async (sql, admin) => {
    let queried = false;
    const error = await assertRejects(() =>
      transaction(sql, async (tx) => {
        const [{ pid }] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await terminate(admin, pid);
        // Long enough for the driver to see the connection close.
        await new Promise((resolve) => setTimeout(resolve, 500));
        queried = true;
        await tx`SELECT 1`;
      })
    );
    await waitFor("the body to go on to its next query", () => queried);
    // A query written to the dropped socket would fail in an immediate queued before this one.
    await new Promise((resolve) => setImmediate(resolve));
    assertEquals(connectionLost(error), true, String(error));
  },
);

lostTest("an error the server answers still rolls the transaction back", async (sql) => {
  await sql`CREATE TABLE t (id integer PRIMARY KEY)`;
  await assertRejects(() =>
    transaction(sql, async (tx) => {
      await tx`INSERT INTO t VALUES (1)`;
      await tx`INSERT INTO t VALUES (1)`;
    })
  );
  const rows = await sql`SELECT id FROM t`;
  assertEquals(rows.length, 0);
  await transaction(sql, (tx) => tx`INSERT INTO t VALUES (2)`);
  assertEquals((await sql`SELECT id FROM t`).map((row) => row.id), [2]);
});

Deno.test({
  name: "transactions whose connection is lost",
  ignore: postgresMissing !== null,
  async fn(t) {
    await using server = await startPostgres();
    for (const [name, fn] of cases) {
      await t.step(name, async () => {
        const url = await server.database();
        const sql = connect(url);
        const admin = connect(url, { max: 1 });
        try {
          await fn(sql, admin);
          // The pool opens a new connection for what follows.
          const [{ one }] = await sql<{ one: number }[]>`SELECT 1 AS one`;
          assertEquals(one, 1);
        } finally {
          await Promise.all([sql.end({ timeout: 1 }), admin.end()]);
        }
      });
    }
  },
});
