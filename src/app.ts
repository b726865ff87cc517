/**
 * Wiring: configuration, dotenv, definitions, store, runner, HTTP server, signals, reload and
 * shutdown.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServeOptions } from "./cli/flags.ts";
import { loadEnvFiles } from "./config/dotenv.ts";
import { loadOrCreateJwtSecret } from "./config/dynamic_config.ts";
import { loadDefinitions } from "./definition/mod.ts";
import { formatDuration } from "./definition/duration.ts";
import { createRunner, type Runner, type ShutdownMode } from "./runner/runner.ts";
import { startTaskExecutor } from "./executor/task_executor.ts";
import { startGuardedExecutor } from "./executor/guarded_executor.ts";
import { KILL_TIMEOUT_MS } from "./executor/process_group.ts";
import { createApp, parseAddress, type RunningServer, startServer } from "./server/mod.ts";
import { jobListingEncoder } from "./server/json.ts";
import { countSaveFailures, createMetrics } from "./metrics/metrics.ts";
import { observeRunner } from "./metrics/observe.ts";
import { openStorage } from "./store/data_dir.ts";
import { redactUrl } from "./store/pg/url.ts";
import { applyRetention } from "./store/retention.ts";
import type { TriggerTick } from "./store/types.ts";
import { backgroundTask } from "./app/background.ts";
import { type ClusterMember, startNode } from "./cluster/mod.ts";
import { reloadDefinitions, watchDefinitions } from "./app/reload.ts";
import { VERSION } from "./version.ts";
import { checkHealth, settlesWithin } from "./app/health.ts";
import { IDLE_RELEASE_MS, idleRelease } from "./memory/idle.ts";
import { mallocTrim, releaseMemory } from "./memory/release.ts";
import { v8Collection, v8YoungCollection } from "./memory/v8_gc.ts";

/** How long after a job ends retention runs, merging the ends in between. */
const RETENTION_DELAY_MS = 1000;
/** How often retention runs regardless (retention periods expire without any job ending). */
const RETENTION_PERIOD_MS = 60_000;
/**
 * How long a stop tries to store job changes the store could not take so far, and then waits
 * for the store to close, before prunner exits anyway.
 */
const STOP_FLUSH_MS = 10_000;
/** How long each part of `GET /health` may take before it counts as failing. */
const HEALTH_TIMEOUT_MS = 5_000;

const log = getLogger(["prunner"]);

/** A started prunner. */
export interface Prunner {
  readonly runner: Runner;
  readonly server: RunningServer;
  /** Stops everything: the runner (gracefully or canceling jobs), the server, the store. */
  stop(mode: ShutdownMode): Promise<void>;
}

/**
 * Starts prunner: loads configuration and definitions, opens the data directory, restores
 * unfinished jobs and serves the API.
 *
 * @throws {PrunnerError} subclasses with a message naming what is wrong (invalid definitions,
 * a locked or unreadable data directory, a bad config file, an address in use).
 */
export async function startPrunner(options: ServeOptions): Promise<Prunner> {
  const env = await loadEnvFiles(options.envFiles);
  for (const [key, value] of Object.entries(env)) Deno.env.set(key, value);

  const { secret } = await loadOrCreateJwtSecret({
    configPath: options.config,
    jwtSecret: options.jwtSecret,
  });

  const loadOptions = { path: options.path, pattern: options.pattern };
  const { definitions, files } = await loadDefinitions(loadOptions);
  if (files.length === 0) {
    log.warn("No pipeline definitions found below {path} matching {pattern}", loadOptions);
  } else {
    log.info("Loaded {count} pipeline(s) from {files}", {
      count: definitions.size,
      files: files.join(", "),
    });
  }

  const nodeName = options.databaseUrl === null ? undefined : defaultNodeName(options);
  const dataDir = await openStorage(options.data, {
    databaseUrl: options.databaseUrl,
    node: nodeName,
    listing: jobListingEncoder,
    onDamaged: (error) => log.warn("The job list skips a damaged record: {error}", { error }),
    onShipFailure: (error) => {
      if (error === null) log.info("Task output is copied into the database again");
      else log.warn("Task output cannot be copied into the database, retrying: {error}", { error });
    },
    releaseListed: v8YoungCollection() ?? undefined,
  });
  if (options.databaseUrl !== null) {
    log.info("Jobs are kept in the PostgreSQL database {database}, shared by its cluster", {
      database: redactUrl(options.databaseUrl),
    });
  }
  const retention = backgroundTask(
    async () => {
      const removed = await applyRetention(
        dataDir.store,
        dataDir.logs,
        runner.definitions(),
        Date.now(),
        (ids) => runner.events.emit({ type: "jobs_removed", ids }),
      );
      if (removed > 0) log.info("Retention removed {removed} job(s)", { removed });
      // A round at a time, so that saves go on in between.
      let packed = 0;
      try {
        for (let moved; (moved = await dataDir.store.packListing()) > 0;) packed += moved;
      } catch (error) {
        // Listings stay complete without packs, only slower; the next run tries again.
        log.warn("Packing finished jobs for listings failed: {error}", { error });
      }
      if (packed > 0) log.debug("Packed the listing entries of {packed} job(s)", { packed });
    },
    RETENTION_DELAY_MS,
    RETENTION_PERIOD_MS,
    (error) => log.error("Retention failed: {error}", { error }),
  );
  const metrics = createMetrics({ load: () => runner.load() });
  const onUnexpectedExit = () => metrics.executorRestarted();
  // Tasks start from prunner's own process where that does not copy it (posix_spawn), with a
  // guard process; elsewhere from task executor processes.
  const executor =
    await startGuardedExecutor({ killTimeoutMs: KILL_TIMEOUT_MS, onUnexpectedExit }) ??
      startTaskExecutor({ onUnexpectedExit });
  const runner = createRunner({
    definitions,
    store: countSaveFailures(dataDir.store, () => metrics.storeWriteFailed()),
    logs: dataDir.logs,
    executor,
    cwd: Deno.cwd(),
    idempotencyTtlMs: options.idempotencyTtlMs,
    onJobCompleted: () => retention.request(),
    ...(dataDir.cluster ? { cluster: { store: dataDir.cluster, node: nodeName! } } : {}),
  });
  observeRunner(metrics, runner.events);
  const idle = idleRelease(IDLE_RELEASE_MS, releaseMemory(v8Collection(), mallocTrim()));
  // What other nodes of a cluster do is not this process's work.
  runner.events.subscribe(() => idle.activity(), { remote: false });

  /** Ends the open event and log streams, which would keep the server's shutdown waiting. */
  const closeStreams = new AbortController();
  let server: RunningServer;
  let ticks: TriggerTick[];
  let node: ClusterMember | null = null;
  try {
    if (dataDir.cluster) {
      node = await startNode({
        store: dataDir.cluster,
        runner,
        name: nodeName!,
        address: nodeAddress(options.address),
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      });
    }
    await runner.restore(await dataDir.store.listUnfinished());
    ticks = await dataDir.store.triggerTicks();
    retention.request();
    const app = createApp({
      runner,
      secret,
      isShuttingDown: runner.isShuttingDown,
      metrics,
      signal: closeStreams.signal,
      health: () => checkHealth(runner, dataDir, executor, HEALTH_TIMEOUT_MS, node ?? undefined),
      ui: options.ui,
      cluster: node ?? undefined,
      ...(node ? { clusterLogs: { node: node.name, logs: dataDir.logs } } : {}),
    });
    server = await startServer({
      fetch(request) {
        idle.activity();
        return app.fetch(request);
      },
    }, options.address);
  } catch (error) {
    await executor.close();
    await retention.stop();
    await node?.stop();
    await dataDir.close();
    throw error;
  }
  log.info("prunner {version} listening on {url}", { version: VERSION, url: server.url });
  // Once prunner is up: a start that fails above leaves no trigger behind to start a job.
  runner.startTriggers(ticks);

  const watcher = options.watch
    ? watchDefinitions(
      options.path,
      options.pollIntervalMs,
      () => reloadDefinitions(runner, loadOptions),
    )
    : null;
  if (watcher) {
    log.info("Watching {path} for changes every {interval}", {
      path: options.path,
      interval: formatDuration(options.pollIntervalMs),
    });
  }

  let stopping: Promise<void> | null = null;
  return {
    runner,
    server,
    stop(mode: ShutdownMode): Promise<void> {
      const stopped = runner.shutdown(mode);
      stopping ??= (async () => {
        watcher?.stop();
        idle.stop();
        await stopped;
        await executor.close();
        closeStreams.abort();
        await server.shutdown();
        await retention.stop();
        const notStored = await runner.flush(STOP_FLUSH_MS);
        await node?.stop();
        if (notStored.length > 0) {
          log.error(
            "The latest state of {count} job(s) could not be stored before the stop and is " +
              "lost: {jobIds}",
            { count: notStored.length, jobIds: notStored.join(", ") },
          );
        }
        if (await settlesWithin(dataDir.close(), STOP_FLUSH_MS) === false) {
          log.error("The job store did not close within {seconds} s; stopping anyway", {
            seconds: STOP_FLUSH_MS / 1000,
          });
        }
      })();
      return stopping;
    },
  };
}

/** This node's name in a cluster: `--node-name`, else the host's name and the port served. */
function defaultNodeName(options: ServeOptions): string {
  if (options.nodeName !== null) return options.nodeName;
  return `${Deno.hostname()}:${parseAddress(options.address).port}`;
}

/**
 * Where other nodes and people reach this node: the URL of `--address`, with the host's name
 * in place of an address of all interfaces (`:9009`, `0.0.0.0:9009`, `[::]:9009`).
 */
function nodeAddress(address: string): string {
  const { hostname, port } = parseAddress(address);
  const host = hostname === "0.0.0.0" || hostname === "::"
    ? Deno.hostname()
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return `http://${host}:${port}`;
}

/**
 * Runs prunner until a signal stops it: SIGINT waits for running jobs (a second SIGINT cancels
 * them), SIGTERM cancels them, SIGUSR1 reloads the definitions. Resolves with the exit code.
 */
export async function serve(options: ServeOptions): Promise<number> {
  const prunner = await startPrunner(options);
  const loadOptions = { path: options.path, pattern: options.pattern };
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  let interrupts = 0;
  const stop = (mode: ShutdownMode) => prunner.stop(mode).then(resolve);

  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      log.info("SIGINT: waiting for running jobs to finish (send SIGINT again to cancel them)");
      stop("graceful");
    } else {
      log.info("SIGINT again: canceling running jobs");
      stop("cancel");
    }
  };
  const onTerminate = () => {
    log.info("SIGTERM: canceling running jobs");
    stop("cancel");
  };
  const onReload = () => {
    log.info("SIGUSR1: reloading definitions");
    reloadDefinitions(prunner.runner, loadOptions);
  };
  const signals: [Deno.Signal, () => void][] = [["SIGINT", onInterrupt]];
  if (Deno.build.os !== "windows") signals.push(["SIGTERM", onTerminate], ["SIGUSR1", onReload]);
  for (const [signal, handler] of signals) Deno.addSignalListener(signal, handler);

  await stopped;
  for (const [signal, handler] of signals) Deno.removeSignalListener(signal, handler);
  log.info("prunner stopped");
  return 0;
}
