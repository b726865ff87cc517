/**
 * A job's record in Deno KV: its head (`["jobs", created, id]`), the parts of a head or of
 * variables too big for one value (`["job_parts", id, …]`) and its indexes. This module turns a
 * job into the units that write it and reads it back; it knows the keys of one job, not how
 * writes are batched or listed.
 *
 * Variables never change after scheduling: up to {@linkcode INLINE_VARIABLES_BYTES} of JSON
 * they are kept inline in the head, bigger ones go to their own parts, written once, so a state
 * change rewrites only the small head. In that case the head JSON has `variables: null` and
 * `variableParts: n`. A head over 64 KiB is split into state parts, and the head key holds
 * their number.
 *
 * @module
 */
import { idempotencyDigest } from "../../engine/idempotency.ts";
import type { Job, JobVariables } from "../../engine/job.ts";
import { concatBytes } from "../../bytes.ts";
import { StoreReadError, StoreWriteError } from "../errors.ts";
import {
  fits,
  keySize,
  KV_LIMITS,
  type Mutation,
  remove,
  set,
  type Unit,
  unitOf,
} from "./commits.ts";

/** Variables up to this size (bytes of JSON) are kept in the job's head. */
export const INLINE_VARIABLES_BYTES = 4096;

/** How a job's record is laid out, so that a save rewrites only what changed. */
export interface RecordShape {
  variableParts: number;
  stateParts: number;
  completed: boolean;
  end: number | null;
}

/** The head JSON: a job, with big variables replaced by their part count. */
interface StoredJob extends Omit<Job, "variables"> {
  variables: JobVariables | null;
  variableParts?: number;
}

/** The units that write a job, the last one holding its head and indexes. */
export interface JobUnits {
  /** Big variables, each part in a unit of its own, to commit before `last`. */
  readonly parts: Unit[];
  readonly last: Unit;
  /** The record's shape once `last` is committed. */
  readonly shape: RecordShape;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The units that write `job`: big variables first, then its head, its listing entry (`listed`,
 * see `listing.ts`) and indexes. `previous` is the shape of the record as last written or read;
 * with `reuse` its variable parts are known to be in place and are not written again. A job
 * scheduled with an idempotency key that has not expired at `now` gets its index entry
 * (`["idempotency", digest]`, see {@linkcode idempotencyKey}) with its head.
 *
 * @throws {StoreWriteError} when the head and indexes do not fit into one commit.
 * @throws {RangeError} when a key is too long (see `set`).
 * @example
 * ```ts
 * const { parts, last } = jobUnits(job, undefined, false, listedEntry(encoder, job), Date.now());
 * for (const units of groupCommits([...parts, last])) await commit(kv, units);
 * ```
 */
export function jobUnits(
  job: Job,
  previous: RecordShape | undefined,
  reuse: boolean,
  listed: Uint8Array | false,
  now: number,
): JobUnits {
  const parts: Unit[] = [];
  const state: Mutation[] = [];
  const fresh = previous === undefined || !reuse;
  let variableParts = fresh ? 0 : previous.variableParts;

  if (fresh && job.variables !== null) {
    const bytes = encoder.encode(JSON.stringify(job.variables));
    if (bytes.length > INLINE_VARIABLES_BYTES) {
      const chunks = split(bytes);
      variableParts = chunks.length;
      chunks.forEach((chunk, i) => {
        const mutations = [set(["job_parts", job.id, "variables", i], chunk)];
        if (i === 0) mutations.push(set(["job_parts", job.id], true));
        parts.push(unitOf(mutations));
      });
    }
  }
  const stored: StoredJob = variableParts === 0 ? job : { ...job, variables: null, variableParts };
  const head = encoder.encode(JSON.stringify(stored));
  const key = ["jobs", job.created, job.id];
  let stateParts = 0;
  if (head.length <= KV_LIMITS.valueBytes) {
    state.push(set(key, head));
  } else {
    const chunks = split(head);
    stateParts = chunks.length;
    chunks.forEach((chunk, i) => state.push(set(["job_parts", job.id, "state", i], chunk)));
    state.push(set(["job_parts", job.id], true));
    state.push(set(key, stateParts));
  }
  state.push(set(["listed", job.created, job.id], listed));
  for (let i = stateParts; i < (previous?.stateParts ?? 0); i++) {
    state.push(remove(["job_parts", job.id, "state", i]));
  }
  if (fresh) state.push(set(["job_ids", job.id], jobRef(job)));
  if (fresh && job.idempotency && job.idempotency.expires > now) {
    const { key, expires } = job.idempotency;
    state.push(set(idempotencyKey(job.user, key), [job.created, job.id], expires - now));
  }
  if (fresh || previous.completed !== job.completed || previous.end !== job.end) {
    state.push(set(["by_pipeline", job.pipeline, job.created, job.id], [job.completed, job.end]));
    const unfinished = ["unfinished", job.created, job.id];
    state.push(job.completed ? remove(unfinished) : set(unfinished, true));
  }

  const last = unitOf(state);
  if (!fits(last)) {
    throw new StoreWriteError(
      job.id,
      `its state needs ${last.bytes} bytes in ${last.mutations.length} mutation(s) with ` +
        `${last.keyBytes} bytes of keys, more than one commit holds (${KV_LIMITS.totalBytes} ` +
        `bytes, ${KV_LIMITS.mutations} mutations, ${KV_LIMITS.totalKeyBytes} bytes of keys)`,
    );
  }
  const shape = { variableParts, stateParts, completed: job.completed, end: job.end };
  return { parts, last, shape };
}

/**
 * Decodes a head entry (of `["jobs", created, id]`), reading its parts.
 *
 * @throws {StoreReadError} when the record is damaged: a part missing, JSON that does not parse.
 * @example
 * ```ts
 * const { job } = await readJob(kv, await kv.get(["jobs", created, id]));
 * ```
 */
export async function readJob(
  kv: Deno.Kv,
  head: Deno.KvEntry<unknown>,
): Promise<{ job: Job; shape: RecordShape }> {
  const id = head.key[2] as string;
  let entry = head;
  let stateParts = 0;
  let bytes: Uint8Array;
  while (true) {
    const { value } = entry;
    if (value instanceof Uint8Array) {
      bytes = value;
      stateParts = 0;
      break;
    }
    if (typeof value !== "number") throw new StoreReadError(id, "its head is not readable");
    stateParts = value;
    const parts = await readParts(kv, id, "state", stateParts);
    // The parts are consistent with the head only if no save happened in between.
    const again = await kv.get(entry.key);
    if (again.versionstamp === entry.versionstamp) {
      bytes = concatBytes(parts);
      break;
    }
    if (again.value === null) throw new StoreReadError(id, "it was deleted while being read");
    entry = again;
  }
  const { variableParts = 0, ...job } = parseJson<StoredJob>(id, "record", bytes);
  if (variableParts > 0) {
    const parts = await readParts(kv, id, "variables", variableParts);
    job.variables = parseJson<JobVariables>(id, "variables", concatBytes(parts));
  }
  const shape = { variableParts, stateParts, completed: job.completed, end: job.end };
  return { job: job as Job, shape };
}

/**
 * The units that remove the jobs `ids` with their indexes, parts and listing entries (not their
 * packed listing, see `listing.ts`), and the jobs found, as `[created, id]`. Unknown ids are
 * ignored.
 *
 * @example
 * ```ts
 * const { units } = await deletionUnits(kv, [job.id]);
 * for (const group of groupCommits(units)) await commit(kv, group);
 * ```
 */
export async function deletionUnits(
  kv: Deno.Kv,
  ids: readonly string[],
): Promise<{ units: Unit[]; deleted: [number, string][] }> {
  const units: Unit[] = [];
  const deleted: [number, string][] = [];
  for (let i = 0; i < ids.length; i += KV_LIMITS.getMany) {
    const chunk = ids.slice(i, i + KV_LIMITS.getMany)
      .filter((id) => fitsKey(["job_ids", id]));
    const refs = await kv.getMany<JobRef[]>(chunk.map((id) => ["job_ids", id]));
    const marks = await kv.getMany<true[]>(chunk.map((id) => ["job_parts", id]));
    const indexKeys = refs.flatMap(({ value }) =>
      value?.[2] === undefined ? [] : [["idempotency", value[2]]]
    );
    const keyed = indexKeys.length === 0 ? [] : await kv.getMany<[number, string][]>(indexKeys);
    for (const [j, ref] of refs.entries()) {
      if (ref.value === null) continue;
      const id = chunk[j];
      const [created, pipeline, digest] = ref.value;
      const keys: Deno.KvKey[] = [
        ["jobs", created, id],
        ["job_ids", id],
        ["by_pipeline", pipeline, created, id],
        ["unfinished", created, id],
        ["listed", created, id],
      ];
      // The key goes with its job, unless a newer job took it over after it expired.
      const index = keyed.find(({ key }) => key[1] === digest);
      if (index?.value?.[1] === id) keys.push(index.key);
      if (marks[j].value !== null) {
        keys.push(marks[j].key);
        for await (const part of kv.list({ prefix: marks[j].key })) keys.push(part.key);
      }
      units.push(...keys.map((key) => unitOf([remove(key)])));
      deleted.push([created, id]);
    }
  }
  return { units, deleted };
}

/** The value of `["job_ids", id]`: `[created, pipeline]`, plus the idempotency digest if any. */
type JobRef = [number, string] | [number, string, string];

function jobRef(job: Job): JobRef {
  if (!job.idempotency) return [job.created, job.pipeline];
  return [job.created, job.pipeline, idempotencyKey(job.user, job.idempotency.key)[1]];
}

/**
 * The index key of `user`'s idempotency key `key`: a digest, so that any user and key fit.
 * Its value is `[created, id]` of the job that holds the key.
 *
 * @example
 * ```ts
 * const ref = await kv.get<[number, string]>(idempotencyKey(user, key));
 * ```
 */
export function idempotencyKey(user: string, key: string): ["idempotency", string] {
  return ["idempotency", idempotencyDigest(user, key)];
}

/**
 * Whether Deno KV takes the key (see `KV_LIMITS.keyBytes`).
 *
 * @example
 * ```ts
 * if (!fitsKey(["job_ids", id])) return null; // no job can have this id
 * ```
 */
export function fitsKey(key: Deno.KvKey): boolean {
  return keySize(key) <= KV_LIMITS.keyBytes;
}

async function readParts(
  kv: Deno.Kv,
  id: string,
  kind: string,
  count: number,
): Promise<Uint8Array[]> {
  const keys = Array.from({ length: count }, (_, i) => ["job_parts", id, kind, i]);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < keys.length; i += KV_LIMITS.getMany) {
    for (const entry of await kv.getMany(keys.slice(i, i + KV_LIMITS.getMany))) {
      if (!(entry.value instanceof Uint8Array)) {
        throw new StoreReadError(id, `part ${parts.length} of its ${kind} is missing`);
      }
      parts.push(entry.value);
    }
  }
  return parts;
}

function parseJson<T>(id: string, what: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new StoreReadError(id, `its ${what} is not valid JSON (${(error as Error).message})`);
  }
}

function split(bytes: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += KV_LIMITS.valueBytes) {
    parts.push(bytes.subarray(i, i + KV_LIMITS.valueBytes));
  }
  return parts;
}
