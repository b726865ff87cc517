/**
 * Errors a user or client can act on. The HTTP layer maps each class to a status code.
 *
 * @module
 */

/** Base class: every prunner error carries a message meant for people. */
export class PrunnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Scheduling named a pipeline that is not defined. */
export class PipelineNotFoundError extends PrunnerError {
  constructor(readonly pipeline: string) {
    super(`pipeline "${pipeline}" is not defined`);
  }
}

/** The pipeline's wait list is full (`queue_limit` reached with `append`). */
export class QueueFullError extends PrunnerError {
  constructor(readonly pipeline: string, readonly limit: number) {
    super(`queue full: pipeline "${pipeline}" already has ${limit} waiting job(s) (queue_limit)`);
  }
}

/** The pipeline is at its concurrency and has `queue_limit: 0`. */
export class QueueDisabledError extends PrunnerError {
  constructor(readonly pipeline: string) {
    super(
      `queueing disabled: pipeline "${pipeline}" is at its concurrency limit and has queue_limit 0`,
    );
  }
}

/** A schedule request's variables exceed the documented size. */
export class VariablesTooLargeError extends PrunnerError {
  constructor(readonly size: number, readonly limit: number) {
    super(`variables too large: ${size} bytes of JSON, at most ${limit} are accepted`);
  }
}

/** A schedule request's variables are nested deeper than the documented limit. */
export class VariablesTooDeepError extends PrunnerError {
  constructor(readonly limit: number) {
    super(
      `variables nested too deeply: at most ${limit} levels of objects and arrays are accepted`,
    );
  }
}

/**
 * A new job could not be stored (no space, I/O error, read-only file system): it was refused
 * and nothing of it ran.
 */
export class JobNotStoredError extends PrunnerError {
  constructor(readonly reason: string, readonly dataDir: string | null) {
    super(
      `cannot store the job: ${reason}${dataDir === null ? "" : ` (data directory ${dataDir})`}`,
    );
  }
}

/**
 * A schedule request sent an idempotency key that an earlier, different request (another
 * pipeline, variables or partition) already used.
 */
export class IdempotencyKeyReusedError extends PrunnerError {
  constructor(readonly key: string, readonly jobId: string) {
    super(
      `idempotency key ${JSON.stringify(key)} was already used for a different request, which ` +
        `scheduled job ${jobId}: send the same pipeline, variables and queuePartition to get ` +
        "that job again, or a new key for a new job",
    );
  }
}

/** No job has this id. */
export class JobNotFoundError extends PrunnerError {
  constructor(readonly jobId: string) {
    super(`job not found: ${jobId}`);
  }
}

/** A job that already ended cannot be canceled. */
export class JobCompletedError extends PrunnerError {
  constructor(readonly jobId: string) {
    super(`job is already completed: ${jobId}`);
  }
}

/** prunner is shutting down and accepts no new jobs. */
export class ShuttingDownError extends PrunnerError {
  constructor() {
    super("prunner is shutting down and accepts no new jobs");
  }
}

/**
 * The message of a thrown value, whatever was thrown.
 *
 * @example
 * ```ts
 * errorMessage(new Error("disk full")); // "disk full"
 * errorMessage("plain string"); // "plain string"
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A trigger's tick whose job another node of the cluster started already: the tick is done,
 * so this node starts nothing for it.
 */
export class TickTakenError extends PrunnerError {
  constructor(readonly pipeline: string, readonly planned: number) {
    super(
      `Another node of the cluster already started the job of pipeline "${pipeline}" for ` +
        `${new Date(planned).toISOString()}`,
    );
  }
}
