/**
 * Test support for the HTTP API: an in-memory RunnerApi, an HS256 signer written independently
 * of the server's code, and a running server on a free port.
 *
 * @module
 */
import { type Job, jobState, type JobVariables, type Task } from "../../src/engine/job.ts";
import { requestFingerprint } from "../../src/engine/idempotency.ts";
import {
  IdempotencyKeyReusedError,
  JobCompletedError,
  JobNotFoundError,
  JobNotStoredError,
  PipelineNotFoundError,
  QueueDisabledError,
  QueueFullError,
} from "../../src/errors.ts";
import type { LogStream, PipelineInfo, RunnerApi, ScheduleRequest } from "../../src/runner/api.ts";
import {
  type ClusterView,
  createApp,
  type HealthProblems,
  type RunningServer,
  startServer,
} from "../../src/server/mod.ts";
import type { ClusterNode } from "../../src/cluster/mod.ts";
import { DatabaseUnavailableError } from "../../src/store/errors.ts";
import { newTask } from "../../src/engine/create_job.ts";
import { createMetrics, type Metrics } from "../../src/metrics/metrics.ts";
import { createEventHub, type EventHub } from "../../src/runner/events.ts";
import type { StreamOptions } from "../../src/server/app.ts";
import type { ClusterLogs } from "../../src/server/routes/logs.ts";
import type { JobCursor } from "../../src/store/types.ts";
import { logPath } from "../../src/store/logs.ts";

/** The secret the test servers verify tokens with. */
export const SECRET = "test-secret-0123456789";

/** Pipelines the fake knows; `full` and `disabled` refuse jobs like a full or disabled queue. */
export const PIPELINES: PipelineInfo[] = [
  {
    pipeline: "build",
    schedulable: true,
    running: true,
    runningJobs: 1,
    waitingJobs: 0,
    nextRun: null,
  },
  {
    pipeline: "deploy",
    schedulable: true,
    running: false,
    runningJobs: 0,
    waitingJobs: 0,
    nextRun: Date.UTC(2026, 11, 8, 3, 30),
  },
  {
    pipeline: "disabled",
    schedulable: false,
    running: true,
    runningJobs: 1,
    waitingJobs: 0,
    nextRun: null,
  },
  {
    pipeline: "full",
    schedulable: false,
    running: true,
    runningJobs: 1,
    waitingJobs: 2,
    nextRun: null,
  },
];

/** The fields `GET /pipelines` shows of `PIPELINES`: `nextRun` only where a trigger ticks. */
export const PIPELINES_JSON = PIPELINES.map(({ pipeline, schedulable, running, nextRun }) => ({
  pipeline,
  schedulable,
  running,
  ...(nextRun === null ? {} : { nextRun: new Date(nextRun).toISOString().replace(".000", "") }),
}));

/** A fake runner that keeps jobs in memory and records what it was asked. */
export interface FakeRunner extends RunnerApi {
  jobs: Map<string, Job>;
  scheduled: ScheduleRequest[];
  canceled: string[];
  /** Log sources by `jobId/task/stream`; each is a factory so a test can serve it lazily. */
  logs: Map<string, () => ReadableStream<Uint8Array>>;
  /** When set, `getJob` throws this (a server fault). */
  failGetJob: Error | null;
  /** The hub the fake's events go through; tests emit on it. */
  events: EventHub;
  /** How many listeners are subscribed to `events` right now. */
  listeners(): number;
  /** Directory of the files `logPath` names; created on first use, removed by the server. */
  readonly logsDir: string;
  /** Removes `logsDir` when it was created. */
  removeLogs(): Promise<void>;
}

/** Newest first by creation time, ties by id (the store's order). */
function newestFirst(a: { created: number; id: string }, b: { created: number; id: string }) {
  return b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function isAfter(job: Job, cursor: JobCursor): boolean {
  return newestFirst(cursor, job) < 0;
}

/** Creates the fake runner, optionally with jobs. */
export function fakeRunner(jobs: Job[] = []): FakeRunner {
  let logsDir: string | undefined;
  let subscribed = 0;
  const countingHub = (): EventHub => {
    const hub = createEventHub();
    return {
      emit: hub.emit,
      followsRemote: hub.followsRemote,
      subscribe(listener, options) {
        subscribed++;
        const unsubscribe = hub.subscribe(listener, options);
        let once = true;
        return () => {
          if (once) subscribed--;
          once = false;
          unsubscribe();
        };
      },
    };
  };
  /** Jobs scheduled with an idempotency key, by user and key. */
  const keyed = new Map<string, Job>();
  const runner: FakeRunner = {
    jobs: new Map(jobs.map((job) => [job.id, job])),
    scheduled: [],
    canceled: [],
    logs: new Map(),
    failGetJob: null,
    events: countingHub(),
    listeners: () => subscribed,
    get logsDir() {
      logsDir ??= Deno.makeTempDirSync({ prefix: "prunner-test-logs-" });
      return logsDir;
    },
    listPipelines: () => PIPELINES.map((p) => ({ ...p })),
    async *listJobs() {
      yield [...runner.jobs.values()].sort(newestFirst);
    },
    pageJobs({ limit, before, pipeline, state = null }) {
      const matching = [...runner.jobs.values()].sort(newestFirst)
        .filter((job) => pipeline === null || job.pipeline === pipeline)
        .filter((job) => state === null || jobState(job) === state)
        .filter((job) => before === null || isAfter(job, before));
      const jobs = matching.slice(0, limit);
      const last = jobs.at(-1);
      const next = matching.length > limit && last ? { created: last.created, id: last.id } : null;
      return Promise.resolve({ jobs, next });
    },
    async removeLogs() {
      if (logsDir !== undefined) await Deno.remove(logsDir, { recursive: true });
      logsDir = undefined;
    },
    logPath(jobId, task, stream, attempt) {
      return logPath(runner.logsDir, jobId, task, stream, attempt);
    },
    getJob(id) {
      if (runner.failGetJob) return Promise.reject(runner.failGetJob);
      return Promise.resolve(runner.jobs.get(id) ?? null);
    },
    schedule(request) {
      if (request.pipeline === "full") {
        return Promise.reject(new QueueFullError("full", 2));
      }
      if (request.pipeline === "disabled") {
        return Promise.reject(new QueueDisabledError("disabled"));
      }
      if (request.pipeline === "unstorable") {
        return Promise.reject(
          new JobNotStoredError("database or disk is full", "/var/lib/prunner/data"),
        );
      }
      if (!PIPELINES.some((p) => p.pipeline === request.pipeline)) {
        return Promise.reject(new PipelineNotFoundError(request.pipeline));
      }
      runner.scheduled.push(request);
      const job = makeJob({
        pipeline: request.pipeline,
        variables: request.variables,
        user: request.user,
        queuePartition: request.queuePartition,
        created: Date.now(),
      });
      runner.jobs.set(job.id, job);
      return Promise.resolve(job);
    },
    async scheduleOnce(request, key) {
      const name = JSON.stringify([request.user, key]);
      const fingerprint = requestFingerprint(request);
      const earlier = keyed.get(name);
      if (earlier) {
        if (earlier.idempotency?.fingerprint !== fingerprint) {
          throw new IdempotencyKeyReusedError(key, earlier.id);
        }
        return { job: earlier, replayed: true };
      }
      const job = await runner.schedule(request);
      job.idempotency = { key, fingerprint, expires: Number.MAX_SAFE_INTEGER };
      keyed.set(name, job);
      return { job, replayed: false };
    },
    cancel(id) {
      const job = runner.jobs.get(id);
      if (!job) return Promise.reject(new JobNotFoundError(id));
      if (job.completed) return Promise.reject(new JobCompletedError(id));
      runner.canceled.push(id);
      return Promise.resolve();
    },
    openLog(jobId: string, task: string, stream: LogStream) {
      const source = runner.logs.get(`${jobId}/${task}/${stream}`);
      return Promise.resolve(source ? source() : null);
    },
  };
  return runner;
}

/** A task with every optional field empty, overridden by `fields`. */
export function makeTask(fields: Partial<Task> = {}): Task {
  return { ...newTask(fields.name ?? "build", []), ...fields };
}

/** A job with every optional field empty, overridden by `fields`. */
export function makeJob(fields: Partial<Job> = {}): Job {
  return {
    id: crypto.randomUUID(),
    pipeline: "build",
    tasks: [makeTask()],
    completed: false,
    canceled: false,
    errored: false,
    created: Date.UTC(2026, 10, 28, 12, 0, 0),
    start: null,
    end: null,
    lastError: null,
    variables: null as JobVariables | null,
    user: "",
    queuePartition: null,
    ...fields,
  };
}

/** A running test server and what it runs on. */
export interface TestServer extends AsyncDisposable {
  url: string;
  runner: FakeRunner;
  server: RunningServer;
  /** Flip to make the app report that prunner is shutting down. */
  shuttingDown: { value: boolean };
  /** What `GET /health` reports. */
  health: { value: HealthProblems };
  /** GET/POST with a valid token for `sub` (default "j.doe"). */
  request(path: string, init?: RequestInit & { sub?: string }): Promise<Response>;
}

/** Metrics with one scheduled job of `build` and no process metrics. */
export function testMetrics(): Metrics {
  const metrics = createMetrics({
    load: () => [{ pipeline: "build", running: 1, waiting: 0 }],
    processMetrics: false,
  });
  metrics.jobScheduled(makeJob());
  return metrics;
}

/** A fake cluster member: its nodes, and whether the database answers. */
export interface FakeCluster extends ClusterView {
  /** What `nodes()` answers. */
  list: ClusterNode[];
  /** When true, `nodes()` fails as when the database does not answer. */
  down: boolean;
}

/** A cluster of two nodes as `node-a` sees it: itself running one job, `node-b` silent. */
export function fakeCluster(): FakeCluster {
  const cluster: FakeCluster = {
    name: "node-a",
    list: [
      {
        name: "node-a",
        session: "s-a",
        address: "http://10.0.0.1:9009",
        started: Date.UTC(2026, 11, 7, 6, 0, 0, 250),
        heartbeatAgeMs: 800,
        alive: true,
        self: true,
        jobs: ["11111111-2222-4333-8444-555555555555"],
      },
      {
        name: "node-b",
        session: "s-b",
        address: "http://10.0.0.2:9009",
        started: Date.UTC(2026, 11, 7, 5, 0),
        heartbeatAgeMs: 42_000,
        alive: false,
        self: false,
        jobs: [],
      },
    ],
    down: false,
    nodes() {
      if (cluster.down) {
        return Promise.reject(
          new DatabaseUnavailableError("postgres://prunner@db/prunner", new Error("ECONNREFUSED")),
        );
      }
      return Promise.resolve(cluster.list);
    },
  };
  return cluster;
}

/** Starts the real server on a free port with a fake runner (and, to be a node, a cluster). */
export async function startTestServer(
  runner = fakeRunner(),
  streams: StreamOptions = {},
  cluster?: ClusterView,
  clusterLogs?: ClusterLogs,
): Promise<TestServer> {
  const shuttingDown = { value: false };
  const stopping = new AbortController();
  const health = { value: { store: null, executor: null } as HealthProblems };
  const app = createApp({
    runner,
    secret: SECRET,
    isShuttingDown: () => shuttingDown.value,
    metrics: testMetrics(),
    signal: stopping.signal,
    streams,
    health: () => Promise.resolve(health.value),
    cluster,
    clusterLogs,
  });
  const server = await startServer(app, "127.0.0.1:0");
  return {
    url: server.url,
    runner,
    server,
    shuttingDown,
    health,
    async request(path, init = {}) {
      const { sub = "j.doe", ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has("authorization")) {
        headers.set("authorization", `Bearer ${await signToken({ sub }, SECRET)}`);
      }
      return fetch(server.url + path, { ...rest, headers });
    },
    async [Symbol.asyncDispose]() {
      stopping.abort();
      await server.shutdown();
      await runner.removeLogs();
    },
  };
}

const encoder = new TextEncoder();

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function encodePart(value: unknown): string {
  return base64Url(encoder.encode(JSON.stringify(value)));
}

/**
 * Signs a JWT with WebCrypto, independently of the server's code. `alg` may be HS256 or HS512
 * (signed with the matching hash) or `none` (no signature).
 */
export async function signToken(
  claims: Record<string, unknown>,
  secret: string,
  alg: "HS256" | "HS512" | "none" = "HS256",
): Promise<string> {
  const input = `${encodePart({ alg, typ: "JWT" })}.${encodePart(claims)}`;
  if (alg === "none") return `${input}.`;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: alg === "HS256" ? "SHA-256" : "SHA-512" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(input));
  return `${input}.${base64Url(new Uint8Array(signature))}`;
}

/** Seconds since the epoch, as JWT claims count time. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Reads a JSON response, failing with the body text if it is not JSON. */
export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`response ${response.status} is not JSON: ${text.slice(0, 200)}`);
  }
}
