/**
 * Zod schemas of the HTTP API's requests and responses. The route definitions validate requests
 * with them and the OpenAPI document is generated from them, so the two cannot drift apart.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../engine/idempotency.ts";
import { JOB_STATES } from "../engine/job.ts";
import { MAX_SCANNED_JOBS } from "../runner/paging.ts";

const EXAMPLE_JOB_ID = "52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8";
const DATE_TIME = { type: "string", format: "date-time", example: "2026-11-28T12:00:00Z" } as const;

/** `{"error": "…"}`, the body of every error response. */
export const ErrorSchema = z.object({
  error: z.string().openapi({ description: "What went wrong", example: "job not found" }),
}).openapi("Error");

/** A pipeline in the list of pipelines. */
export const PipelineSchema = z.object({
  pipeline: z.string().openapi({ description: "Pipeline name", example: "my_pipeline" }),
  schedulable: z.boolean().openapi({ description: "A new job would be accepted right now" }),
  running: z.boolean().openapi({ description: "At least one job of the pipeline runs" }),
  nextRun: z.string().optional().openapi({
    ...DATE_TIME,
    description: "When a trigger of the pipeline's `schedule` starts its next job; omitted " +
      "without one",
  }),
}).openapi("Pipeline");

/** The trigger that started a job. */
export const JobTriggerSchema = z.object({
  cron: z.string().openapi({
    description: "The trigger's `cron` in the pipeline's `schedule`",
    example: "30 3 * * *",
  }),
  timezone: z.string().openapi({ description: "Its time zone", example: "Europe/Berlin" }),
  planned: z.string().openapi({ ...DATE_TIME, description: "The tick the job was started for" }),
}).openapi("JobTrigger");

/** Output of one stream of a task that was read but not written to its log file. */
export const StreamLossSchema = z.object({
  bytes: z.number().int().openapi({ description: "Bytes dropped", example: 1048576 }),
  reason: z.string().openapi({
    description: "Why the log file could not be written",
    example: "No space left on device (os error 28)",
  }),
}).openapi("DroppedOutput");

/** A task of a job. Optional fields are omitted when empty. */
export const TaskSchema = z.object({
  name: z.string().openapi({ description: "Task name", example: "build" }),
  dependsOn: z.array(z.string()).optional().openapi({
    description: "Names of the tasks this task depends on; omitted when none",
  }),
  status: z.enum(["waiting", "running", "skipped", "done", "error", "canceled"]).openapi({
    description: "Status of the task",
  }),
  start: z.string().optional().openapi({ ...DATE_TIME, description: "When the task started" }),
  end: z.string().optional().openapi({ ...DATE_TIME, description: "When the task ended" }),
  skipped: z.boolean().openapi({ description: "The task was skipped" }),
  exitCode: z.number().int().openapi({ description: "Exit code of the failing line, or 0" }),
  errored: z.boolean().openapi({ description: "The task failed" }),
  error: z.string().optional().openapi({
    description:
      "Why the task failed; while it waits out a retry delay, why its last attempt failed",
  }),
  attempt: z.number().int().optional().openapi({
    description: "Which attempt of a task with `retries` runs or ran last; omitted for the first",
    example: 2,
  }),
  retryAt: z.string().optional().openapi({
    ...DATE_TIME,
    description: "While the task waits out its retry delay: when its next attempt starts",
  }),
  droppedOutput: z.object({
    stdout: StreamLossSchema.optional(),
    stderr: StreamLossSchema.optional(),
  }).optional().openapi({
    description: "Output the task printed that is missing from its log (`GET /job/logs`), per " +
      "stream: the log file could not be written (e.g. no space left). Omitted when none.",
  }),
}).openapi("Task");

/** A job. Optional fields are omitted when empty. */
export const JobSchema = z.object({
  id: z.string().openapi({ format: "uuid", description: "Job id", example: EXAMPLE_JOB_ID }),
  pipeline: z.string().openapi({ description: "Pipeline name", example: "my_pipeline" }),
  tasks: z.array(TaskSchema).openapi({
    description: "Tasks in topological order, ties broken by name",
  }),
  completed: z.boolean().openapi({ description: "The job has ended" }),
  canceled: z.boolean().openapi({ description: "The job was canceled" }),
  errored: z.boolean().openapi({ description: "A task of the job failed" }),
  created: z.string().openapi({ ...DATE_TIME, description: "When the job was scheduled" }),
  start: z.string().optional().openapi({ ...DATE_TIME, description: "When the job started" }),
  end: z.string().optional().openapi({ ...DATE_TIME, description: "When the job ended" }),
  lastError: z.string().optional().openapi({ description: "Error of the last failed task" }),
  variables: z.record(z.string(), z.unknown()).optional().openapi({
    description: "Variables the job was scheduled with; omitted when none",
    example: { tag_name: "v1.17.4" },
  }),
  user: z.string().openapi({
    description: "The `sub` claim of the token that scheduled the job",
    example: "j.doe",
  }),
  trigger: JobTriggerSchema.optional().openapi({
    description: "Which trigger of the pipeline's `schedule` started the job (its user is " +
      "`schedule`), and for which tick; omitted for jobs scheduled through the API",
  }),
  node: z.string().optional().openapi({
    description: "In a cluster (`--database-url`): the node that started the job and runs its " +
      "tasks; omitted before the job starts and on a single prunner",
    example: "web-1:9009",
  }),
}).openapi("Job");

/** A pipeline with its job counts, in `GET /pipelines/status`. */
export const PipelineStatusSchema = PipelineSchema.extend({
  runningJobs: z.number().int().openapi({ description: "How many jobs of the pipeline run" }),
  waitingJobs: z.number().int().openapi({
    description: "How many jobs of the pipeline wait on its wait list",
  }),
}).openapi("PipelineStatus");

/** `GET /pipelines/status`. */
export const PipelinesStatusResponseSchema = z.object({
  pipelines: z.array(PipelineStatusSchema).openapi({ description: "Sorted by name" }),
});

/** The `cluster` section of `GET /health`: this node's view of its cluster. */
export const ClusterHealthSchema = z.object({
  node: z.string().openapi({ description: "This node's name", example: "web-1:9009" }),
  connected: z.boolean().openapi({
    description: "Whether this node's last heartbeat reached the database",
  }),
  liveNodes: z.number().int().nullable().openapi({
    description: "How many nodes (this one included) have a heartbeat within the heartbeat " +
      "timeout; `null` when the database did not answer in time",
    example: 2,
  }),
}).openapi("ClusterHealth");

/** `GET /health`. */
export const HealthSchema = z.object({
  status: z.enum(["ok", "failing"]).openapi({ description: "Whether prunner can run jobs" }),
  store: z.string().openapi({
    description: '"ok", or why the job store cannot write',
    example: "ok",
  }),
  executor: z.string().openapi({
    description: '"ok", or why tasks cannot run',
    example: "ok",
  }),
  cluster: ClusterHealthSchema.optional().openapi({
    description: "In a cluster (`--database-url`): this node and the live nodes; omitted on a " +
      "single prunner. It does not change `status`.",
  }),
}).openapi("Health");

/** A node of the cluster, in `GET /cluster`. */
export const ClusterNodeSchema = z.object({
  name: z.string().openapi({
    description: "The node's name (`--node-name`)",
    example: "web-1:9009",
  }),
  address: z.string().openapi({
    description: "Where the node serves the API",
    example: "http://web-1:9009",
  }),
  started: z.string().openapi({ ...DATE_TIME, description: "When the node joined the cluster" }),
  heartbeatAgeMs: z.number().int().openapi({
    description: "How long ago its last heartbeat was, in ms, by the database's clock",
    example: 1200,
  }),
  alive: z.boolean().openapi({
    description: "Its last heartbeat is within the heartbeat timeout; a node silent for longer " +
      "is taken for dead, and its jobs are canceled",
  }),
  self: z.boolean().openapi({ description: "It is the node that answers this request" }),
  jobs: z.array(z.string().openapi({ format: "uuid", example: EXAMPLE_JOB_ID })).openapi({
    description: "Ids of the unfinished started jobs it runs",
  }),
}).openapi("ClusterNode");

/** `GET /cluster`. */
export const ClusterResponseSchema = z.object({
  node: z.string().openapi({
    description: "The name of the node that answers",
    example: "web-1:9009",
  }),
  nodes: z.array(ClusterNodeSchema).openapi({ description: "Every node of the cluster, by name" }),
}).openapi("Cluster");

/** `GET /pipelines/`. */
export const PipelinesResponseSchema = z.object({ pipelines: z.array(PipelineSchema) });

/** `GET /pipelines/jobs`. */
export const PipelinesJobsResponseSchema = z.object({
  pipelines: z.array(PipelineSchema),
  jobs: z.array(JobSchema).openapi({
    description: "All jobs, newest first; with paging parameters, one page of them",
  }),
  next: z.string().optional().openapi({
    description: "With paging parameters, when more jobs follow: the `before` of the next page",
  }),
});

/** Largest page of `GET /pipelines/jobs`. */
export const MAX_PAGE = 1000;

/** Page size of `GET /pipelines/jobs` when `before` or `pipeline` is given without `limit`. */
export const DEFAULT_PAGE = 50;

const limitError = `limit must be a whole number from 1 to ${MAX_PAGE}`;

/** `?limit=&before=&pipeline=&status=` of `GET /pipelines/jobs`; all optional. */
export const PipelinesJobsQuerySchema = z.object({
  limit: z.string().regex(/^\d{1,7}$/, { error: limitError })
    .transform(Number).pipe(
      z.number().min(1, { error: limitError }).max(MAX_PAGE, {
        error: limitError,
      }),
    )
    .optional().openapi({
      param: { name: "limit", in: "query" },
      description: `Page size, 1 to ${MAX_PAGE} (default ${DEFAULT_PAGE} when \`before\` or ` +
        "`pipeline` is given). Without any paging parameter all jobs are listed.",
      type: "integer",
      minimum: 1,
      maximum: MAX_PAGE,
      example: DEFAULT_PAGE,
    }),
  before: z.string().optional().openapi({
    param: { name: "before", in: "query" },
    description: "The `next` of the previous page: list the jobs after it",
  }),
  pipeline: z.string().optional().openapi({
    param: { name: "pipeline", in: "query" },
    description: "Only jobs of this pipeline",
    example: "my_pipeline",
  }),
  status: z.enum(JOB_STATES, {
    error: `status must be one of ${JOB_STATES.join(", ")}`,
  }).optional().openapi({
    param: { name: "status", in: "query" },
    description: "Only jobs in this state. Such a page may hold fewer than `limit` jobs (at " +
      `most ${MAX_SCANNED_JOBS} jobs are read for one page) and still have a \`next\`.`,
    example: "error",
  }),
});

/** `POST /pipelines/schedule` request body. */
export const ScheduleBodySchema = z.object({
  pipeline: z.string({
    error: (issue) =>
      issue.input === undefined
        ? 'missing pipeline: the body needs "pipeline": "<name>"'
        : "pipeline must be a string",
  }).min(1, { error: 'missing pipeline: the body needs "pipeline": "<name>"' }).openapi({
    description: "Name of the pipeline to schedule",
    example: "my_pipeline",
  }),
  variables: z.record(z.string(), z.unknown(), {
    error: "variables must be a JSON object",
  }).nullable().optional().openapi({
    description: "Job variables for the task scripts' templates: at most 1 MiB of JSON, " +
      "objects and arrays nested at most 64 levels deep",
    example: { tag_name: "v1.17.4", databases: ["mysql", "postgresql"] },
  }),
  queuePartition: z.string({ error: "queuePartition must be a string" }).nullable().optional()
    .openapi({
      description: 'Wait-list partition, for pipelines with queue_strategy "partitioned_replace"',
      example: "site-a",
    }),
}, { error: "the request body must be a JSON object" }).openapi("ScheduleRequest");

/** The header of a schedule request that makes its retries safe. */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";

/** The header of a schedule answer that is an earlier request's job. */
export const IDEMPOTENCY_REPLAYED_HEADER = "idempotency-replayed";

/** `POST /pipelines/schedule` request headers. */
export const ScheduleHeadersSchema = z.object({
  [IDEMPOTENCY_KEY_HEADER]: z.string()
    .min(1, { error: "Idempotency-Key must not be empty" })
    .max(MAX_IDEMPOTENCY_KEY_LENGTH, {
      error: `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long`,
    })
    .regex(/^[\x20-\x7e]*$/, {
      error: "Idempotency-Key must consist of printable ASCII characters",
    })
    .optional()
    .openapi({
      description: "Makes retries safe: a request with the same key by the same user, while the " +
        "key is kept (24 h by default), gets the job the first one created instead of a new " +
        "one. 1 to 255 printable ASCII characters, e.g. a UUID.",
      example: "5d9f2c1e-8a4b-4c2d-9e1f-0a7b3c6d4e21",
    }),
});

/** `POST /pipelines/schedule` response. */
export const ScheduleResponseSchema = z.object({
  jobId: z.string().openapi({
    format: "uuid",
    description: "Id of the scheduled job",
    example: EXAMPLE_JOB_ID,
  }),
});

/** `GET /job/logs` response. */
export const LogsResponseSchema = z.object({
  stdout: z.string().openapi({ description: "Standard output of the task" }),
  stderr: z.string().openapi({ description: "Standard error of the task" }),
});

const jobId = z.guid({
  error: (issue) =>
    issue.input === undefined
      ? "missing job id: pass ?id=<job UUID>"
      : "invalid job id: expected a UUID such as " + EXAMPLE_JOB_ID,
}).openapi({
  param: { name: "id", in: "query" },
  description: "Job id",
  example: EXAMPLE_JOB_ID,
});

/** `?id=` of the job routes. */
export const JobQuerySchema = z.object({ id: jobId });

const taskName = z.string({ error: "missing task name: pass ?task=<task name>" })
  .min(1, { error: "missing task name: pass ?task=<task name>" })
  .openapi({ param: { name: "task", in: "query" }, description: "Task name", example: "build" });

/** `?id=&task=` of `GET /job/logs` and `GET /job/logs/stream`. */
export const LogsQuerySchema = z.object({ id: jobId, task: taskName });

/** `?id=&task=&stream=` of `GET /job/logs/raw`. */
export const RawLogQuerySchema = z.object({
  id: jobId,
  task: taskName,
  stream: z.enum(["stdout", "stderr"], {
    error: "stream must be stdout or stderr: pass ?stream=stdout or ?stream=stderr",
  }).openapi({
    param: { name: "stream", in: "query" },
    description: "Which output of the task",
    example: "stdout",
  }),
});
