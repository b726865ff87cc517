/**
 * A prunner as a node of a cluster: its membership (heartbeats, fencing, take-over of dead
 * nodes, see `membership.ts`), the notifications it listens to (other nodes' job changes as
 * events, cancel requests, pipelines with due work) and what `prunner cluster` shows.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Runner } from "../runner/runner.ts";
import type { ClusterStore, NodeRecord } from "../store/cluster.ts";
import { createJobBridge } from "./bridge.ts";
import { joinCluster } from "./membership.ts";

export { HEARTBEATS_PER_TIMEOUT } from "./membership.ts";

/** Settings of {@linkcode startNode}. */
export interface NodeOptions {
  readonly store: ClusterStore;
  readonly runner: Runner;
  readonly name: string;
  /** Where the node serves its API, as other nodes and people reach it. */
  readonly address: string;
  readonly heartbeatTimeoutMs: number;
}

/** A node of the cluster, as `GET /cluster` shows it. */
export interface ClusterNode extends NodeRecord {
  /** Whether this is the node that answers. */
  readonly self: boolean;
  /** Whether its heartbeat is within the timeout. */
  readonly alive: boolean;
  /** The unfinished started jobs that name it. */
  readonly jobs: readonly string[];
}

/** A started node. */
export interface ClusterMember {
  /** The name of this node. */
  readonly name: string;
  /**
   * The nodes of the cluster, with their heartbeats and running jobs.
   *
   * @throws {DatabaseUnavailableError} when the database does not answer.
   */
  nodes(): Promise<ClusterNode[]>;
  /**
   * How many nodes (this one included) have a heartbeat within the timeout; one query.
   *
   * @throws {DatabaseUnavailableError} when the database does not answer.
   */
  liveNodes(): Promise<number>;
  /** Whether the last heartbeat went through. */
  connected(): boolean;
  /** Stops listening and heartbeats (after the runner has stopped). */
  stop(): Promise<void>;
}

const log = getLogger(["prunner", "cluster"]);

/**
 * Joins the cluster (before the runner restores its jobs, so that no other node takes this
 * node's earlier jobs over meanwhile) and listens to the other nodes.
 *
 * @example
 * ```ts
 * const node = await startNode({
 *   store: dataDir.cluster!, runner, name: "web-1:9009",
 *   address: "http://web-1:9009", heartbeatTimeoutMs: 15_000,
 * });
 * await node.stop();
 * ```
 */
export async function startNode(options: NodeOptions): Promise<ClusterMember> {
  const { store, runner, name, heartbeatTimeoutMs } = options;
  const bridge = createJobBridge({ events: runner.events, read: (ids) => store.jobs(ids) });
  const membership = await joinCluster({
    store,
    name,
    address: options.address,
    timeoutMs: heartbeatTimeoutMs,
    stopLocalJobs: (reason) => runner.stopLocalJobs(reason),
    runsJobs: () => runner.load().some((load) => load.running > 0),
    takeOver: (node, reason) => runner.takeOver(node, reason),
    reconnected: () => {
      // Decisions made while away are stored by now or retried; what waits may be due.
      runner.clusterChanged();
      runner.startWaiting().catch(() => {});
    },
  });
  let unlisten: () => Promise<void>;
  try {
    unlisten = await store.listen(name, {
      jobs(_origin, ids) {
        bridge.changed(ids);
        runner.clusterChanged();
      },
      cancel(id) {
        runner.cancel(id).catch((error) =>
          log.debug("A cancel request for job {jobId} found nothing to cancel: {error}", {
            jobId: id,
            error,
          })
        );
      },
      pipeline: (pipeline) => runner.startDue(pipeline),
      connected: () => runner.clusterChanged(),
    });
  } catch (error) {
    await membership.stop();
    throw error;
  }
  log.info("Node {name} joined the cluster (heartbeat timeout {timeout} ms)", {
    name,
    timeout: heartbeatTimeoutMs,
  });
  const alive = (node: NodeRecord) => node.heartbeatAgeMs <= heartbeatTimeoutMs;
  return {
    name,
    async nodes() {
      const nodes = await store.nodes();
      return await Promise.all(nodes.map(async (node) => ({
        ...node,
        self: node.name === name,
        alive: alive(node),
        jobs: (await store.startedOn(node.name)).map((job) => job.id),
      })));
    },
    liveNodes: async () => (await store.nodes()).filter(alive).length,
    connected: () => membership.connected(),
    async stop() {
      bridge.stop();
      await unlisten().catch(() => {});
      await membership.stop();
    },
  };
}
