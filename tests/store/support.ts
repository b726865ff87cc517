import type { Job, Task } from "../../src/engine/job.ts";
import { jobToJson } from "../../src/server/json.ts";
import type { JobStore } from "../../src/store/types.ts";
import { newTask } from "../../src/engine/create_job.ts";

let counter = 0;

/** A job with one waiting task, overridden by `fields`. Ids sort in creation order. */
export function job(fields: Partial<Job> = {}): Job {
  counter++;
  return {
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    pipeline: "build",
    tasks: [task("compile")],
    completed: false,
    canceled: false,
    errored: false,
    created: 1_700_000_000_000 + counter,
    start: null,
    end: null,
    lastError: null,
    variables: { branch: "main" },
    user: "j.doe",
    queuePartition: null,
    ...fields,
  };
}

/** A waiting task. */
export function task(name: string, fields: Partial<Task> = {}): Task {
  return { ...newTask(name, []), ...fields };
}

/** What a `recordingKv` saw. */
export interface KvRecord {
  /** Atomic commits attempted. */
  commits: number;
  /** Keys set, in order, across all commits. */
  sets: Deno.KvKey[];
  /** Keys set with `expireIn`, with it, in order, across all commits. */
  expiring: [Deno.KvKey, number][];
  /** Most commits in flight at the same time. */
  maxInFlight: number;
  /** When set, commits throw this error. */
  failWith: Error | null;
  /** Delay before each commit, ms. */
  delayMs: number;
}

/** Wraps a KV database to count and inspect atomic commits. */
export function recordingKv(kv: Deno.Kv): { kv: Deno.Kv; record: KvRecord } {
  const record: KvRecord = {
    commits: 0,
    sets: [],
    expiring: [],
    maxInFlight: 0,
    failWith: null,
    delayMs: 0,
  };
  let inFlight = 0;
  const wrapped = new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const operation = target.atomic();
          const keys: Deno.KvKey[] = [];
          const expiring: [Deno.KvKey, number][] = [];
          const set = operation.set.bind(operation);
          const commit = operation.commit.bind(operation);
          operation.set = (key, value, options) => {
            keys.push(key);
            if (options?.expireIn !== undefined) expiring.push([key, options.expireIn]);
            return set(key, value, options);
          };
          operation.commit = async () => {
            record.commits++;
            inFlight++;
            record.maxInFlight = Math.max(record.maxInFlight, inFlight);
            try {
              if (record.delayMs > 0) await new Promise((r) => setTimeout(r, record.delayMs));
              if (record.failWith) throw record.failWith;
              const result = await commit();
              record.sets.push(...keys);
              record.expiring.push(...expiring);
              return result;
            } finally {
              inFlight--;
            }
          };
          return operation;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, record };
}

/** A temporary directory removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "prunner-store-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

/** Every key in the database but the version markers (`format`, `listing_version`). */
export async function allKeys(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    if (entry.key[0] !== "format" && entry.key[0] !== "listing_version") keys.push(entry.key);
  }
  return keys;
}

/** Job variables whose JSON text is `bytes` characters long, multi-byte characters among them. */
export function bigVariables(bytes: number): Record<string, unknown> {
  const list = Array.from({ length: 64 }, (_, i) => ({ i, text: "ü€𝄞".repeat(8) }));
  return { list, blob: "x".repeat(bytes - JSON.stringify({ list, blob: "" }).length) };
}

/** What listJson yields, decoded: ids and API JSON. */
export async function listed(store: JobStore): Promise<{ id: string; json: unknown }[]> {
  const decoder = new TextDecoder();
  return (await collect(store.listJson())).flat().flatMap((item) => {
    const jobs = JSON.parse(`[${decoder.decode(item.json)}]`) as unknown[];
    if ("id" in item) return [{ id: item.id, json: jobs[0] }];
    return jobs.map((json) => ({ id: (json as { id: string }).id, json }));
  });
}

/** The API JSON of jobs as a listing shows it (through a JSON round trip). */
export function apiJson(...jobs: Job[]): { id: string; json: unknown }[] {
  return jobs.map((j) => ({ id: j.id, json: JSON.parse(JSON.stringify(jobToJson(j))) }));
}
