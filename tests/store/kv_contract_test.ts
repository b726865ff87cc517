import { openKvJobStore } from "../../src/store/kv/job_store.ts";
import { createLogStore, jobLogDir } from "../../src/store/logs.ts";
import type { StoreReadError } from "../../src/store/errors.ts";
import type { JobStore } from "../../src/store/types.ts";
import { jobListingEncoder as listing } from "../../src/server/json.ts";
import { storeContract } from "./contract.ts";
import { tempDir } from "./support.ts";

storeContract("Deno KV", () =>
  Promise.resolve({
    async open(now) {
      const dir = await tempDir();
      const path = `${dir.path}/jobs.kv`;
      const logsDir = `${dir.path}/logs`;
      const damaged: StoreReadError[] = [];
      const open = async () =>
        await openKvJobStore(await Deno.openKv(path), {
          listing,
          onDamaged: (error) => damaged.push(error),
          now,
        });
      let store: JobStore = await open();
      return {
        get store() {
          return store;
        },
        logs: createLogStore(logsDir),
        damaged,
        async writeLog(jobId, task, stream, attempt, bytes) {
          await Deno.mkdir(jobLogDir(logsDir, jobId), { recursive: true });
          await Deno.writeFile(createLogStore(logsDir).path(jobId, task, stream, attempt), bytes);
        },
        async reopen() {
          await store.close();
          store = await open();
          return store;
        },
        async [Symbol.asyncDispose]() {
          await store.close();
          await dir[Symbol.asyncDispose]();
        },
      };
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  }));
