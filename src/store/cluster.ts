/**
 * What a cluster of prunner nodes shares through its store (PostgreSQL, see `pg/cluster.ts`):
 * decisions per pipeline taken one at a time across the cluster, the nodes and their
 * heartbeats, and the notifications by which nodes learn what the others changed. The store
 * reads and writes; what starts, waits or ends is decided above it, by the engine.
 *
 * @module
 */
import type { Job } from "../engine/job.ts";
import type { TriggerTick } from "./types.ts";

/** An unfinished job of a pipeline, as wait-list decisions see it. */
export interface QueuedJob {
  readonly id: string;
  /** Scheduling time, epoch ms. */
  readonly created: number;
  readonly started: boolean;
  readonly partition: string | null;
  /** The node that started it; `null` while it waits. */
  readonly node: string | null;
}

/** What a decision for one pipeline reads and writes, in one transaction. */
export interface PipelineTransaction {
  /** The pipeline's unfinished jobs in the order they were accepted. */
  queued(): Promise<QueuedJob[]>;
  /** Jobs by id (any pipeline); unknown ids are left out. */
  jobs(ids: readonly string[]): Promise<Job[]>;
  /** Writes jobs; the other nodes are told once the transaction commits. */
  save(jobs: readonly Job[]): Promise<void>;
  /**
   * The job `user` holds idempotency key `key` with, if any; the key is locked until the
   * transaction ends, so that no other node takes it meanwhile.
   */
  findIdempotent(user: string, key: string): Promise<Job | null>;
  /** Whether a job (or a refusal) of this tick or a later one of its trigger is stored. */
  tickTaken(tick: TriggerTick): Promise<boolean>;
  /** Stores a tick whose job was refused (see `JobStore.saveTick`). */
  saveTick(tick: TriggerTick): Promise<void>;
  /** Asks `node`, once the transaction commits, to cancel job `id`, which it runs. */
  requestCancel(node: string, id: string): void;
  /** Tells the other nodes, once the transaction commits, that the pipeline has due work. */
  notifyPipeline(): void;
}

/** A node of the cluster, as its row says. */
export interface NodeRecord {
  readonly name: string;
  /** A new one each time the node starts. */
  readonly session: string;
  /** Its address (the URL it serves). */
  readonly address: string;
  /** When it started, epoch ms. */
  readonly started: number;
  /** How long ago its last heartbeat was, in ms, by the database's clock. */
  readonly heartbeatAgeMs: number;
}

/** What the other nodes told this one. */
export interface ClusterListener {
  /** Jobs that node `origin` changed (its writes are committed). */
  jobs(origin: string, ids: readonly string[]): void;
  /** A node asks this one to cancel a job it runs. */
  cancel(id: string): void;
  /** A node left work due in `pipeline` (e.g. it is stopping). */
  pipeline(pipeline: string): void;
  /** Listening (re)started: notifications may have been missed while it was away. */
  connected(): void;
}

/** A pipeline's running and waiting jobs across the cluster. */
export interface ClusterLoad {
  readonly pipeline: string;
  readonly running: number;
  readonly waiting: number;
}

/** The cluster's shared state. */
export interface ClusterStore {
  /**
   * Runs `decide` in one transaction that holds the pipeline's lock: no other node decides for
   * the pipeline meanwhile. Rejects (writing nothing) when `decide` throws or the database
   * fails.
   */
  withPipeline<T>(pipeline: string, decide: (tx: PipelineTransaction) => Promise<T>): Promise<T>;
  /**
   * Adds this node with a new session, replacing a row of its name only when that one has been
   * silent for longer than `silentMs` (an earlier run of the node that ended); `false` when a
   * live node has the name.
   */
  register(
    node: Omit<NodeRecord, "heartbeatAgeMs" | "started">,
    silentMs: number,
  ): Promise<boolean>;
  /** Renews the node's heartbeat; `false` when its row is gone or has another session. */
  heartbeat(name: string, session: string): Promise<boolean>;
  /** Removes the node's row if it still has this session (a clean stop). */
  unregister(name: string, session: string): Promise<void>;
  /** All nodes, by name. */
  nodes(): Promise<NodeRecord[]>;
  /**
   * Removes the node when its session's last heartbeat is older than `timeoutMs`; `true` when
   * this call removed it (so exactly one node takes over its jobs).
   */
  removeIfSilent(name: string, session: string, timeoutMs: number): Promise<boolean>;
  /** Stored jobs by id, in one read (outside any decision); unknown ids are left out. */
  jobs(ids: readonly string[]): Promise<Job[]>;
  /** The pipeline of a stored job, or `null` when no job has this id. */
  pipelineOf(id: string): Promise<string | null>;
  /** Unfinished started jobs of a node: id and pipeline. */
  startedOn(node: string): Promise<{ id: string; pipeline: string }[]>;
  /** Pipelines with waiting jobs. */
  pipelinesWaiting(): Promise<string[]>;
  /** Running and waiting jobs per pipeline that has some. */
  load(): Promise<ClusterLoad[]>;
  /** Listens to the other nodes; resolves with the function that stops listening. */
  listen(node: string, listener: ClusterListener): Promise<() => Promise<void>>;
}
