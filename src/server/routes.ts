/**
 * The API's route definitions: path, method, request schemas and documented responses. Each
 * resource's sub-app in `./routes/` registers its handlers with these definitions, which both
 * validates requests and generates the OpenAPI document.
 *
 * @module
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import {
  ClusterResponseSchema,
  ErrorSchema,
  HealthSchema,
  IDEMPOTENCY_REPLAYED_HEADER,
  JobQuerySchema,
  JobSchema,
  LogsQuerySchema,
  LogsResponseSchema,
  PipelinesJobsQuerySchema,
  PipelinesJobsResponseSchema,
  PipelinesResponseSchema,
  PipelinesStatusResponseSchema,
  RawLogQuerySchema,
  ScheduleBodySchema,
  ScheduleHeadersSchema,
  ScheduleResponseSchema,
} from "./schemas.ts";

/** Name of the security scheme in the OpenAPI document. */
export const BEARER_AUTH = "bearerAuth";

const security = [{ [BEARER_AUTH]: [] }];

function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

function eventStream(description: string) {
  return {
    description,
    content: { "text/event-stream": { schema: z.string().openapi({ format: "event-stream" }) } },
  };
}

function error(description: string) {
  return json(ErrorSchema, description);
}

const unauthorized = error(
  "Missing, malformed, wrongly signed, expired or not yet valid token (JSON, unlike prunner's " +
    "plain-text 401)",
);
const invalidJobId = error("Missing or invalid job id (not a UUID)");
const jobNotFound = error("No job has this id");

/**
 * `GET /pipelines`, also served as `/pipelines/` (the path prunner documents): the app accepts a
 * trailing slash on every route.
 */
export const listPipelinesRoute = createRoute({
  operationId: "pipelines",
  method: "get",
  path: "/pipelines",
  summary: "List pipelines",
  description: "All defined pipelines sorted by name, with whether a job runs and whether a new " +
    "job would be accepted. Also served as `/pipelines/`, the path prunner documents.",
  security,
  responses: {
    200: json(PipelinesResponseSchema, "The pipelines"),
    401: unauthorized,
  },
});

/** `GET /pipelines/jobs`. */
export const listPipelinesJobsRoute = createRoute({
  operationId: "pipelinesJobs",
  method: "get",
  path: "/pipelines/jobs",
  summary: "List pipelines and jobs",
  description: "Pipelines and all jobs, newest job first, in one request. The body is streamed. " +
    "With `limit`, `before` or `pipeline` the jobs are paged instead: at most `limit` of them, " +
    "and `next` (pass it as `before`) when more follow.",
  security,
  request: { query: PipelinesJobsQuerySchema },
  responses: {
    200: json(PipelinesJobsResponseSchema, "Pipelines and jobs"),
    400: error("A `limit` out of range or a `before` that is no cursor of this API"),
    401: unauthorized,
  },
});

/** `GET /pipelines/status`. */
export const pipelinesStatusRoute = createRoute({
  operationId: "pipelinesStatus",
  method: "get",
  path: "/pipelines/status",
  summary: "List pipelines with job counts",
  description: "Like `GET /pipelines`, plus how many jobs of each pipeline run and wait.",
  security,
  responses: {
    200: json(PipelinesStatusResponseSchema, "The pipelines, sorted by name"),
    401: unauthorized,
  },
});

/** `GET /events`. */
export const eventsRoute = createRoute({
  operationId: "events",
  method: "get",
  path: "/events",
  summary: "Follow every change (Server-Sent Events)",
  description: 'Events `job_scheduled`, `job_started`, `job_completed` (`{"job"}`), ' +
    '`task_started`, `task_finished` (`{"job","task"}`), `jobs_removed` (`{"ids"}`) and ' +
    "`pipelines_reloaded` (`{}`); jobs are shown as by `/job/detail` without `variables`. Every " +
    "event has an id: a client reconnecting with `Last-Event-ID` gets the events it missed while " +
    "the server still keeps them, otherwise `reload` (`{}`), after which it should fetch its " +
    "state again. Idle connections get a `: keepalive` comment every 15 s. Browsers read it " +
    "with `fetch` (EventSource cannot send the token).",
  security,
  request: {
    headers: z.object({
      "last-event-id": z.string().optional().openapi({
        description: "The id of the last event received before the connection broke",
      }),
    }),
  },
  responses: {
    200: eventStream("The event stream; it ends only when the server stops"),
    401: unauthorized,
  },
});

/** `POST /pipelines/schedule`. */
export const scheduleRoute = createRoute({
  operationId: "pipelinesSchedule",
  method: "post",
  path: "/pipelines/schedule",
  summary: "Schedule a job",
  description: "Creates a job of the pipeline with the given variables; it starts at once or " +
    "waits on the pipeline's wait list. The body is read as JSON whatever its Content-Type, as " +
    "prunner does. The token's `sub` claim becomes the job's `user`. With an " +
    "`Idempotency-Key`, a retry of the request gets the job the first one created.",
  security,
  request: {
    headers: ScheduleHeadersSchema,
    body: {
      required: true,
      content: { "application/json": { schema: ScheduleBodySchema } },
    },
  },
  responses: {
    202: {
      ...json(
        ScheduleResponseSchema,
        "The job was scheduled, or, for a retry with the same `Idempotency-Key`, had been",
      ),
      headers: z.object({
        [IDEMPOTENCY_REPLAYED_HEADER]: z.literal("true").optional().openapi({
          description: "Set when the job is the one an earlier request with the same " +
            "`Idempotency-Key` created",
        }),
      }),
    },
    400: error(
      "Malformed JSON, a missing or unknown pipeline, variables that are not an object, too " +
        "large or nested more than 64 levels deep, a full queue or disabled queueing, an " +
        "invalid `Idempotency-Key` (the message says which)",
    ),
    401: unauthorized,
    413: error("The request body is larger than 1 MiB"),
    422: error(
      "The `Idempotency-Key` was used before for a different request (another pipeline, " +
        "variables or queuePartition); the message names the job it scheduled",
    ),
    503: error("prunner is shutting down and accepts no new jobs"),
    507: error(
      "The job could not be stored (no space left, I/O error, read-only file system); it was " +
        "refused and nothing of it runs. The message names the cause and the data directory.",
    ),
  },
});

/** `GET /job/detail?id=`. */
export const jobDetailRoute = createRoute({
  operationId: "jobDetail",
  method: "get",
  path: "/job/detail",
  summary: "Get a job",
  security,
  request: { query: JobQuerySchema },
  responses: {
    200: json(JobSchema, "The job"),
    400: invalidJobId,
    401: unauthorized,
    404: jobNotFound,
    500: error(
      "The job's stored record is damaged or cannot be turned into JSON (the message " +
        "says what is wrong)",
    ),
  },
});

/** `GET /job/logs?id=&task=`. */
export const jobLogsRoute = createRoute({
  operationId: "jobLogs",
  method: "get",
  path: "/job/logs",
  summary: "Get a task's output",
  description: "The task's standard output and standard error, streamed from its log files. " +
    "Bytes that are not valid UTF-8 become U+FFFD.",
  security,
  request: { query: LogsQuerySchema },
  responses: {
    200: json(LogsResponseSchema, "The task's output"),
    400: error("Missing or invalid job id, or missing task name"),
    401: unauthorized,
    404: error("No job has this id, or the job has no task of this name"),
  },
});

/** `GET /job/logs/stream?id=&task=`. */
export const jobLogsStreamRoute = createRoute({
  operationId: "jobLogsStream",
  method: "get",
  path: "/job/logs/stream",
  summary: "Follow a task's output (Server-Sent Events)",
  description: "What the task has written, then new output as it arrives, as `stdout` and " +
    '`stderr` events (`{"text"}`, UTF-8, invalid bytes U+FFFD), then `end` ' +
    '(`{"status","exitCode"}`) when the task has ended, and the response ends. For an ' +
    "ended task everything comes at once; for a task that has not started, the stream waits.",
  security,
  request: { query: LogsQuerySchema },
  responses: {
    200: eventStream("The task's output"),
    400: error("Missing or invalid job id, or missing task name"),
    401: unauthorized,
    404: error("No job has this id, or the job has no task of this name"),
  },
});

/** `GET /job/logs/raw?id=&task=&stream=`. */
export const jobLogsRawRoute = createRoute({
  operationId: "jobLogsRaw",
  method: "get",
  path: "/job/logs/raw",
  summary: "Download a task's log file",
  description: "The bytes of one output stream of the task, as written (empty when nothing " +
    "was written), as an attachment.",
  security,
  request: { query: RawLogQuerySchema },
  responses: {
    200: {
      description: "The log file",
      content: { "text/plain": { schema: z.string() } },
    },
    400: error("Missing or invalid job id, task name or stream"),
    401: unauthorized,
    404: error("No job has this id, or the job has no task of this name"),
  },
});

/** `POST /job/cancel?id=`. */
export const jobCancelRoute = createRoute({
  operationId: "jobCancel",
  method: "post",
  path: "/job/cancel",
  summary: "Cancel a job",
  description: "Cancels a waiting or running job and its tasks; does not wait until the tasks " +
    "have stopped.",
  security,
  request: { query: JobQuerySchema },
  responses: {
    200: json(z.literal(true), "The job is being canceled"),
    400: invalidJobId,
    401: unauthorized,
    404: jobNotFound,
    409: error("The job has already ended"),
  },
});

/** `GET /cluster`. */
export const clusterRoute = createRoute({
  operationId: "cluster",
  method: "get",
  path: "/cluster",
  summary: "List the nodes of the cluster",
  description: "In a cluster (`--database-url`): every node with its address, when it " +
    "joined, the age of its last heartbeat, whether it counts as alive and the jobs it runs, " +
    "as the database has them. Any node answers.",
  security,
  responses: {
    200: json(ClusterResponseSchema, "The nodes, by name"),
    401: unauthorized,
    404: error("Cluster mode is off: this prunner runs alone (no `--database-url`)"),
    503: error("The database did not answer; the message names it"),
  },
});

/** `GET /metrics`. */
export const metricsRoute = createRoute({
  operationId: "metrics",
  method: "get",
  path: "/metrics",
  summary: "Metrics for Prometheus",
  description: "prunner's metrics in the Prometheus text format (version 0.0.4): jobs, tasks, " +
    "wait lists, timeouts, retries, store and executor failures, and process metrics. " +
    "Prometheus sends the token with `authorization: {credentials: …}` in its scrape config.",
  security,
  responses: {
    200: {
      description: "The metrics",
      content: {
        "text/plain": {
          schema: z.string().openapi({
            example: "# TYPE prunner_jobs_scheduled_total counter\n" +
              'prunner_jobs_scheduled_total{pipeline="build"} 3\n',
          }),
        },
      },
    },
    401: unauthorized,
  },
});

/** `GET /openapi.json`: public, see `createApp`. */
export const openApiRoute = createRoute({
  operationId: "openapi",
  method: "get",
  path: "/openapi.json",
  summary: "This OpenAPI document",
  description: "Public: it describes only the API's shape, which is no secret, so that tools " +
    "can read it without a token.",
  security: [],
  responses: {
    200: json(z.record(z.string(), z.unknown()), "OpenAPI 3.1 document"),
  },
});

/** `GET /health`: public, see `createApp`. */
export const healthRoute = createRoute({
  operationId: "health",
  method: "get",
  path: "/health",
  summary: "Whether prunner can run jobs",
  description: "Public and free of job data, for load balancers, orchestrators and container " +
    "health checks: 200 while the job store can write and tasks can run, 503 naming the part " +
    "that fails otherwise. In a cluster, `cluster` adds this node's name, whether its last " +
    "heartbeat reached the database and how many nodes are alive.",
  security: [],
  responses: {
    200: json(HealthSchema, "The store writes and the task executor answers"),
    503: json(HealthSchema, "The store or the task executor fails; the field says why"),
  },
});

/**
 * Every route of the API, in the order `createApp` mounts them (its sub-apps one after another),
 * which is also the order of the paths in the OpenAPI document.
 */
export const ROUTES: readonly RouteConfig[] = [
  healthRoute,
  listPipelinesRoute,
  pipelinesStatusRoute,
  scheduleRoute,
  listPipelinesJobsRoute,
  jobDetailRoute,
  jobCancelRoute,
  jobLogsRoute,
  jobLogsStreamRoute,
  jobLogsRawRoute,
  eventsRoute,
  clusterRoute,
  metricsRoute,
  openApiRoute,
];
