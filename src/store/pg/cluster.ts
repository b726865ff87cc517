/**
 * The cluster's shared state on PostgreSQL (see `../cluster.ts`). Decisions per pipeline run in
 * a transaction holding a transaction-scoped advisory lock of the pipeline, so that nodes decide
 * for it one after the other, each on what the one before committed; the wait list is read from
 * the index of unfinished jobs (`prunner_jobs_queue`, in the order jobs were accepted) without
 * decoding them. Nodes keep a row in `prunner_nodes` with a heartbeat by the database's clock,
 * so that no two machines' clocks are ever compared. Notifications (`NOTIFY`, delivered on
 * commit) tell the other nodes what changed:
 *
 * | Channel            | Payload (JSON)         | Sent when                                      |
 * | ------------------ | ---------------------- | ---------------------------------------------- |
 * | `prunner_jobs`     | `{"o": node, "ids"}`   | jobs were written (see `JOBS_CHANNEL`)         |
 * | `prunner_cancel`   | `{"n": node, "id"}`    | node `n` is asked to cancel a job it runs      |
 * | `prunner_pipeline` | `{"o": node, "p"}`     | a pipeline has due work another node may start |
 *
 * @module
 */
import { holdsKey, idempotencyDigest } from "../../engine/idempotency.ts";
import type { Job } from "../../engine/job.ts";
import type {
  ClusterLoad,
  ClusterStore,
  NodeRecord,
  PipelineTransaction,
  QueuedJob,
} from "../cluster.ts";
import type { ListingEncoder } from "../types.ts";
import { PrunnerError } from "../../errors.ts";
import { DatabaseUnavailableError } from "../errors.ts";
import { fromRow, JOBS_CHANNEL, raiseTick, type ReadRow, toRow, writeRows } from "./job_store.ts";
import { type Sql, transaction, type TransactionSql } from "./sql.ts";

const CANCEL_CHANNEL = "prunner_cancel";
const PIPELINE_CHANNEL = "prunner_pipeline";
/** Seed of the advisory-lock keys hashed from names (`hashtextextended`). */
const LOCK_SEED = 0x707275;

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

/** Jobs by id in one query, in the order of `ids`; unknown ids are left out. */
async function readJobs(sql: Sql | TransactionSql, ids: readonly string[]): Promise<Job[]> {
  const stored = ids.filter((id) => !id.includes("\0"));
  if (stored.length === 0) return [];
  const rows = await sql<ReadRow[]>`
    SELECT id, created, state, variables FROM prunner_jobs WHERE id = ANY(${sql.array(stored)})`;
  const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
  return stored.flatMap((id) => byId.get(id) ?? []);
}

/** Settings of {@linkcode createPgClusterStore}. */
export interface PgClusterStoreOptions {
  /** This node's name: the origin of its writes' notifications. */
  node: string;
  /** How listings show a job (see `PgJobStoreOptions.listing`). */
  listing: ListingEncoder;
  /** The clock, epoch ms (default `Date.now`). */
  now?: () => number;
  /** The database in messages (its URL without the password). */
  database: string;
}

/**
 * The cluster's state in the database of `sql`, whose schema is up to date (see `migrate`).
 *
 * @example
 * ```ts
 * const cluster = createPgClusterStore(sql, {
 *   node: "web-1:9009",
 *   listing: jobListingEncoder,
 *   database: "postgres://prunner@db/prunner",
 * });
 * const queued = await cluster.withPipeline("build", (tx) => tx.queued());
 * ```
 */
export function createPgClusterStore(sql: Sql, options: PgClusterStoreOptions): ClusterStore {
  const { node: origin, listing, database } = options;
  const now = options.now ?? Date.now;
  /** A read whose failure names the database (`GET /cluster` answers it with 503). */
  const unavailable = <T>(query: Promise<T>): Promise<T> =>
    query.catch((error) => {
      throw new DatabaseUnavailableError(database, error);
    });

  return {
    withPipeline(pipeline, decide) {
      return (transaction(sql, async (tx) => {
        const name = utf8.encode(pipeline);
        await tx`SELECT pg_advisory_xact_lock(
          hashtextextended('pipeline ' || encode(${name}::bytea, 'hex'), ${LOCK_SEED}))`;
        const notices: { channel: string; payload: string }[] = [];
        const pipelineTx: PipelineTransaction = {
          async queued() {
            const rows = await tx<
              {
                id: string;
                created: number;
                started: boolean;
                queue_partition: Uint8Array | null;
                node: string | null;
              }[]
            >`
              SELECT id, created, started, queue_partition, node FROM prunner_jobs
              WHERE pipeline = ${name} AND NOT completed ORDER BY seq`;
            return rows.map((row): QueuedJob => ({
              id: row.id,
              created: row.created,
              started: row.started,
              partition: row.queue_partition === null ? null : decoder.decode(row.queue_partition),
              node: row.node,
            }));
          },
          jobs: (ids) => readJobs(tx, ids),
          async save(jobs) {
            if (jobs.length === 0) return;
            const at = now();
            await writeRows(tx, jobs.map((job) => ({ job, row: toRow(job, listing, at) })), origin);
          },
          async findIdempotent(user, key) {
            const digest = idempotencyDigest(user, key);
            await tx`SELECT pg_advisory_xact_lock(
              hashtextextended(${"key " + digest}, ${LOCK_SEED}))`;
            const rows = await tx<ReadRow[]>`
              SELECT id, created, state, variables FROM prunner_jobs
              WHERE idempotency = ${digest} ORDER BY created DESC, id DESC`;
            const at = now();
            for (const row of rows) {
              const job = fromRow(row);
              if (holdsKey(job, user, key, at)) return job;
            }
            return null;
          },
          async tickTaken(tick) {
            const [row] = await tx<{ planned: number }[]>`
              SELECT planned FROM prunner_trigger_ticks
              WHERE pipeline = ${utf8.encode(tick.pipeline)}
                AND trigger = ${utf8.encode(tick.trigger)}`;
            return row !== undefined && Number(row.planned) >= tick.planned;
          },
          async saveTick(tick) {
            await raiseTick(tx, tick);
          },
          requestCancel(node, id) {
            notices.push({ channel: CANCEL_CHANNEL, payload: JSON.stringify({ n: node, id }) });
          },
          notifyPipeline() {
            notices.push({
              channel: PIPELINE_CHANNEL,
              payload: JSON.stringify({ o: origin, p: pipeline }),
            });
          },
        };
        const result = await decide(pipelineTx);
        for (const { channel, payload } of notices) {
          await tx`SELECT pg_notify(${channel}, ${payload})`;
        }
        return result;
      }) as Promise<never>).catch((error) => {
        throw error instanceof PrunnerError ? error : new DatabaseUnavailableError(database, error);
      });
    },

    async register({ name, session, address }, silentMs) {
      const rows = await sql`
        INSERT INTO prunner_nodes (name, session, started, heartbeat, address)
        VALUES (${name}, ${session}, clock_timestamp(), clock_timestamp(), ${address})
        ON CONFLICT (name) DO UPDATE SET session = excluded.session, started = excluded.started,
          heartbeat = excluded.heartbeat, address = excluded.address
        WHERE prunner_nodes.session = excluded.session
          OR prunner_nodes.heartbeat < clock_timestamp() - ${silentMs} * interval '1 millisecond'
        RETURNING name`;
      return rows.length > 0;
    },

    async heartbeat(name, session) {
      const rows = await sql`
        UPDATE prunner_nodes SET heartbeat = clock_timestamp()
        WHERE name = ${name} AND session = ${session} RETURNING name`;
      return rows.length > 0;
    },

    async unregister(name, session) {
      await sql`DELETE FROM prunner_nodes WHERE name = ${name} AND session = ${session}`;
    },

    async nodes() {
      const rows = await unavailable(sql<
        { name: string; session: string; address: string; started: string; age: string }[]
      >`
        SELECT name, session, address,
          (extract(epoch FROM started) * 1000)::bigint::text AS started,
          (extract(epoch FROM clock_timestamp() - heartbeat) * 1000)::bigint::text AS age
        FROM prunner_nodes ORDER BY name`);
      return rows.map((row): NodeRecord => ({
        name: row.name,
        session: row.session,
        address: row.address,
        started: Number(row.started),
        heartbeatAgeMs: Math.max(0, Number(row.age)),
      }));
    },

    async removeIfSilent(name, session, timeoutMs) {
      const rows = await sql`
        DELETE FROM prunner_nodes
        WHERE name = ${name} AND session = ${session}
          AND heartbeat < clock_timestamp() - ${timeoutMs} * interval '1 millisecond'
        RETURNING name`;
      return rows.length > 0;
    },

    jobs: (ids) => unavailable(readJobs(sql, ids)),

    async pipelineOf(id) {
      if (id.includes("\0")) return null;
      const [row] = await sql<{ pipeline: Uint8Array }[]>`
        SELECT pipeline FROM prunner_jobs WHERE id = ${id}`;
      return row === undefined ? null : decoder.decode(row.pipeline);
    },

    async startedOn(node) {
      const rows = await unavailable(sql<{ id: string; pipeline: Uint8Array }[]>`
        SELECT id, pipeline FROM prunner_jobs WHERE node = ${node} AND started AND NOT completed`);
      return rows.map((row) => ({ id: row.id, pipeline: decoder.decode(row.pipeline) }));
    },

    async pipelinesWaiting() {
      const rows = await sql<{ pipeline: Uint8Array }[]>`
        SELECT DISTINCT pipeline FROM prunner_jobs WHERE NOT completed AND NOT started`;
      return rows.map((row) => decoder.decode(row.pipeline));
    },

    async load() {
      const rows = await sql<{ pipeline: Uint8Array; running: string; waiting: string }[]>`
        SELECT pipeline, count(*) FILTER (WHERE started) AS running,
          count(*) FILTER (WHERE NOT started) AS waiting
        FROM prunner_jobs WHERE NOT completed GROUP BY pipeline`;
      return rows.map((row): ClusterLoad => ({
        pipeline: decoder.decode(row.pipeline),
        running: Number(row.running),
        waiting: Number(row.waiting),
      }));
    },

    async listen(node, listener) {
      const parse = (payload: string): Record<string, unknown> | null => {
        try {
          const value = JSON.parse(payload);
          return typeof value === "object" && value !== null ? value : null;
        } catch {
          return null;
        }
      };
      const subscriptions = await Promise.all([
        sql.listen(JOBS_CHANNEL, (payload) => {
          const message = parse(payload);
          if (
            message && typeof message.o === "string" && message.o !== node &&
            Array.isArray(message.ids)
          ) {
            listener.jobs(message.o, message.ids.filter((id) => typeof id === "string"));
          }
        }, () => listener.connected()),
        sql.listen(CANCEL_CHANNEL, (payload) => {
          const message = parse(payload);
          if (message && message.n === node && typeof message.id === "string") {
            listener.cancel(message.id);
          }
        }),
        sql.listen(PIPELINE_CHANNEL, (payload) => {
          const message = parse(payload);
          if (message && message.o !== node && typeof message.p === "string") {
            listener.pipeline(message.p);
          }
        }),
      ]);
      return async () => {
        await Promise.all(subscriptions.map((subscription) => subscription.unlisten()));
      };
    },
  };
}
