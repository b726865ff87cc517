/**
 * The one place where error classes become HTTP status codes.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  IdempotencyKeyReusedError,
  JobCompletedError,
  JobNotFoundError,
  JobNotStoredError,
  PipelineNotFoundError,
  PrunnerError,
  QueueDisabledError,
  QueueFullError,
  ShuttingDownError,
  VariablesTooDeepError,
  VariablesTooLargeError,
} from "../errors.ts";
import { DatabaseUnavailableError, StoreReadError } from "../store/errors.ts";

/** A job's record cannot be turned into JSON (e.g. one written by an older version). */
export class JobNotShowableError extends PrunnerError {
  constructor(readonly jobId: string, readonly reason: string) {
    super(
      `job ${jobId} cannot be shown: its record cannot be turned into JSON (${reason}); ` +
        `the other jobs are not affected`,
    );
  }
}

/** `GET /job/logs` named a task that the job does not have. */
export class TaskNotFoundError extends PrunnerError {
  constructor(readonly jobId: string, readonly task: string) {
    super(`task not found: job ${jobId} has no task "${task}"`);
  }
}

/** `GET /pipelines/jobs?before=` got something that is no cursor of this API. */
export class InvalidCursorError extends PrunnerError {
  constructor(readonly cursor: string) {
    super(
      `invalid cursor ${JSON.stringify(cursor.slice(0, 100))}: pass the "next" value of the ` +
        "previous page as before",
    );
  }
}

/** `GET /cluster` on a prunner that is no node of a cluster. */
export class ClusterModeOffError extends PrunnerError {
  constructor() {
    super(
      "cluster mode is off: this prunner runs alone; start every node with the same " +
        "--database-url to make them a cluster",
    );
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => PrunnerError;

const STATUS_BY_CLASS: ReadonlyArray<readonly [ErrorClass, ContentfulStatusCode]> = [
  [PipelineNotFoundError, 400],
  [QueueFullError, 400],
  [QueueDisabledError, 400],
  [VariablesTooLargeError, 400],
  [InvalidCursorError, 400],
  [VariablesTooDeepError, 400],
  [JobNotFoundError, 404],
  [TaskNotFoundError, 404],
  [ClusterModeOffError, 404],
  [JobCompletedError, 409],
  [IdempotencyKeyReusedError, 422],
  [ShuttingDownError, 503],
  [DatabaseUnavailableError, 503],
  [JobNotStoredError, 507],
  // Server-side, but with a message that says what is wrong with which job.
  [StoreReadError, 500],
  [JobNotShowableError, 500],
];

/**
 * The status code for a `PrunnerError` (mostly errors a client caused; the store's faults are
 * 5xx), or `null` for anything else (an unexpected fault, answered with 500 "internal error").
 *
 * @example
 * ```ts
 * statusFor(new JobNotFoundError("52a5cb79-7556-4c52-8e6f-dd6aaf1bc4c8")); // 404
 * statusFor(new Error("disk full")); // null
 * ```
 */
export function statusFor(error: unknown): ContentfulStatusCode | null {
  for (const [errorClass, status] of STATUS_BY_CLASS) {
    if (error instanceof errorClass) return status;
  }
  return null;
}
