/**
 * A node's membership of the cluster: its heartbeat, what it does when it loses the database,
 * and how it notices that another node is gone.
 *
 * - Heartbeats go out {@linkcode HEARTBEATS_PER_TIMEOUT} times per `timeoutMs`, written with
 *   the database's clock; after a failed one the next is tried sooner, so that the node learns
 *   of the database's return at once. A heartbeat not answered within a quarter of `timeoutMs`
 *   counts as failed: the driver holds a query while it reconnects, so one heartbeat could
 *   otherwise last through a whole outage, and the node would not notice that the others'
 *   heartbeats are old only because the database was away.
 * - A node whose last heartbeat that went through was sent `timeoutMs` less two heartbeat
 *   intervals ago (the database wrote it later) stops its tasks (fencing), on a timer of its
 *   own rather than when a heartbeat fails: by the time the others may take it for dead, it
 *   runs nothing they could start again. A database away for less than that (a restart, a
 *   fail-over) stops nothing. A node that finds its row gone (the others took it for dead)
 *   stops its tasks at once and joins again with a new session.
 * - A node whose heartbeats have gone through for a whole `timeoutMs` looks for nodes silent
 *   longer than `timeoutMs`; the one that removes a silent node's row takes its jobs over.
 *   After an outage of the database every node's heartbeat is old: waiting a whole timeout of
 *   good heartbeats first lets the live ones renew theirs before anyone is taken for dead.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatDuration } from "../definition/duration.ts";
import { PrunnerError } from "../errors.ts";
import { valueWithin } from "../timeout.ts";
import type { ClusterStore } from "../store/cluster.ts";

/** Heartbeats per timeout. */
export const HEARTBEATS_PER_TIMEOUT = 20;

/** What membership acts on. */
export interface MembershipOptions {
  readonly store: ClusterStore;
  /** This node's name and address. */
  readonly name: string;
  readonly address: string;
  /** How long a node may be silent before the others take it for dead, in ms. */
  readonly timeoutMs: number;
  /** Stops every task of this node, giving `reason` as the jobs' error. */
  readonly stopLocalJobs: (reason: string) => void;
  /** Whether this node runs any job. */
  readonly runsJobs: () => boolean;
  /** Takes over the jobs of a node that is gone. */
  readonly takeOver: (node: string, reason: string) => Promise<void>;
  /** Called when the database answers again after it did not. */
  readonly reconnected: () => void;
  /** Monotonic clock in ms (tests). */
  readonly clock?: () => number;
}

/** A running membership. */
export interface Membership {
  /** This node's current session. */
  session(): string;
  /** Whether the last heartbeat went through. */
  connected(): boolean;
  /** Stops heartbeats; leaves the cluster when no started job names this node any more. */
  stop(): Promise<void>;
}

const log = getLogger(["prunner", "cluster"]);

/** Another live node of the cluster has this node's name. */
export class NodeNameInUseError extends PrunnerError {
  constructor(readonly node: string, timeoutMs: number) {
    super(
      `another node of the cluster is named ${node} and kept its heartbeat for ${
        formatDuration(2 * timeoutMs)
      }: give each node its own --node-name`,
    );
  }
}

/**
 * Joins the cluster and keeps the node's heartbeat.
 *
 * @example
 * ```ts
 * const membership = await joinCluster({
 *   store, name: "web-1:9009", address: "http://web-1:9009", timeoutMs: 15_000,
 *   stopLocalJobs: runner.stopLocalJobs, runsJobs: () => runner.load().length > 0,
 *   takeOver: runner.takeOver, reconnected: () => {},
 * });
 * await membership.stop();
 * ```
 */
export async function joinCluster(options: MembershipOptions): Promise<Membership> {
  const { store, name, address, timeoutMs } = options;
  const clock = options.clock ?? (() => performance.now());
  const intervalMs = Math.max(100, Math.floor(timeoutMs / HEARTBEATS_PER_TIMEOUT));
  const retryMs = Math.max(100, Math.floor(intervalMs / 3));
  const answerMs = Math.floor(timeoutMs / 4);
  const fenceMs = timeoutMs - 2 * intervalMs;
  let session = crypto.randomUUID();
  /** When the last heartbeat that went through was sent. */
  let lastOk = clock();
  await waitForName();
  /** When the current run of good heartbeats began; `null` after a failed one. */
  let goodSince: number | null = lastOk;
  let fenced = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fenceTimer: ReturnType<typeof setTimeout> | undefined;
  let beating: Promise<void> = Promise.resolve();
  const takingOver = new Set<string>();

  /** Stops this node's tasks when no heartbeat has gone through for `fenceMs`. */
  const fence = (): void => {
    const silentMs = clock() - lastOk;
    if (stopped || fenced) return;
    if (silentMs < fenceMs) return armFence();
    if (!options.runsJobs()) return;
    fenced = true;
    const silent = formatDuration(Math.round(silentMs / 100) * 100);
    log.error(
      "Node {name} has not reached the database for {silent}: it stops its tasks, since " +
        "the other nodes may take it for dead",
      { name, silent },
    );
    options.stopLocalJobs(
      `canceled: node ${name} lost the database for ${silent}, so its tasks were stopped`,
    );
  };
  const armFence = (): void => {
    clearTimeout(fenceTimer);
    // A heartbeat under way when the node stops arms no timer.
    if (stopped) return;
    fenceTimer = setTimeout(fence, Math.max(0, lastOk + fenceMs - clock()));
  };
  armFence();

  /** One heartbeat; resolves with whether it went through. */
  const beat = async (): Promise<boolean> => {
    const sent = clock();
    let alive: boolean;
    try {
      const answer = await valueWithin(store.heartbeat(name, session), answerMs);
      if (answer === null) {
        throw new Error(`the database did not answer within ${formatDuration(answerMs)}`);
      }
      alive = answer;
    } catch (error) {
      if (goodSince !== null) {
        log.warn("The heartbeat of node {name} failed: {error}", { name, error });
      }
      goodSince = null;
      // Also for jobs started since the timer fired (a task's retry).
      fence();
      return false;
    }
    if (!alive) {
      log.error(
        "The cluster took node {name} for dead: it stops its tasks and joins again",
        { name },
      );
      options.stopLocalJobs(
        `canceled: the cluster took node ${name} for dead (no heartbeat for ${
          formatDuration(timeoutMs)
        })`,
      );
      session = crypto.randomUUID();
      let joined = false;
      try {
        joined = await store.register({ name, session, address }, timeoutMs);
      } catch {
        // Tried again at the next heartbeat.
      }
      if (!joined) {
        goodSince = null;
        return false;
      }
    }
    lastOk = sent;
    fenced = false;
    armFence();
    const now = clock();
    if (goodSince === null) {
      log.info("Node {name} reaches the database again", { name });
      goodSince = now;
      options.reconnected();
    }
    if (now - goodSince >= timeoutMs) await lookForSilent();
    return true;
  };

  /**
   * Registers this node. A row of its name whose heartbeat is recent belongs to a live node, or
   * to this node's run before a crash: it is waited for until it has been silent for the
   * timeout, at most twice the timeout.
   */
  async function waitForName(): Promise<void> {
    const deadline = clock() + 2 * timeoutMs;
    let told = false;
    for (;;) {
      lastOk = clock();
      if (await store.register({ name, session, address }, timeoutMs)) return;
      if (clock() > deadline) throw new NodeNameInUseError(name, timeoutMs);
      if (!told) {
        told = true;
        log.info(
          "A node named {name} had a heartbeat lately: waiting until it has been silent for " +
            "{timeout} (an earlier run of this node), or giving up if it goes on",
          { name, timeout: formatDuration(timeoutMs) },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  const lookForSilent = async (): Promise<void> => {
    const nodes = await store.nodes().catch(() => []);
    for (const node of nodes) {
      if (node.name === name || node.heartbeatAgeMs <= timeoutMs || takingOver.has(node.name)) {
        continue;
      }
      takingOver.add(node.name);
      try {
        if (!(await store.removeIfSilent(node.name, node.session, timeoutMs))) continue;
        const silent = formatDuration(Math.round(node.heartbeatAgeMs / 1000) * 1000);
        log.warn("Node {node} has been silent for {silent}: node {name} takes its jobs over", {
          node: node.name,
          silent,
          name,
        });
        await options.takeOver(
          node.name,
          `canceled: node ${node.name} stopped answering (no heartbeat for ${silent})`,
        );
      } catch (error) {
        log.warn("Taking over the jobs of node {node} failed: {error}", { node: node.name, error });
      } finally {
        takingOver.delete(node.name);
      }
    }
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      beating = beat().catch(() => false).then((ok) => schedule(ok ? intervalMs : retryMs));
    }, delayMs);
  };
  schedule(intervalMs);

  return {
    session: () => session,
    connected: () => goodSince !== null,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(fenceTimer);
      await beating;
      // A node that still has started jobs (e.g. waiting out a retry delay) stays listed: after
      // a restart it goes on with them, or the others take them over once it is silent.
      try {
        if ((await store.startedOn(name)).length === 0) await store.unregister(name, session);
      } catch {
        // Listed until its heartbeat is old: then the others find it has nothing to take over.
      }
    },
  };
}
