import { openPgStore, type PgStore } from "../../src/store/pg/open.ts";
import { jobLogDir } from "../../src/store/logs.ts";
import { createPgLogStore } from "../../src/store/pg/log_store.ts";
import type { StoreReadError } from "../../src/store/errors.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import { storeContract } from "./contract.ts";
import { tempDir } from "./support.ts";

// Output is written through one node's spool and shipped, and read by another node (a log
// store with a spool directory of its own), so the reads come from the database.
storeContract("PostgreSQL", async () => {
  const server = await startPostgres();
  return {
    async open(now) {
      const url = await server.database();
      const dir = await tempDir();
      const damaged: StoreReadError[] = [];
      const open = () =>
        openPgStore(url, {
          listing,
          onDamaged: (error) => damaged.push(error),
          now,
          spoolDir: `${dir.path}/writer`,
        });
      let pg: PgStore = await open();
      const reader = await open();
      return {
        get store() {
          return pg.store;
        },
        logs: createPgLogStore(reader.sql, `${dir.path}/reader`),
        damaged,
        async writeLog(jobId, task, stream, attempt, bytes) {
          await Deno.mkdir(jobLogDir(`${dir.path}/writer`, jobId), { recursive: true });
          await Deno.writeFile(pg.logs.path(jobId, task, stream, attempt), bytes);
          await pg.logs.ship(jobId, task, stream, attempt);
        },
        async reopen() {
          await pg.close();
          pg = await open();
          return pg.store;
        },
        async [Symbol.asyncDispose]() {
          await pg.close();
          await reader.close();
          await dir[Symbol.asyncDispose]();
        },
      };
    },
    [Symbol.asyncDispose]: () => server.dispose(),
  };
}, postgresMissing);
