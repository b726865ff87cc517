/**
 * Errors of the command-line client, each with a one-line message that says what failed and
 * what to look at.
 *
 * @module
 */
import { PrunnerError } from "../errors.ts";

/** The server could not be reached at all (refused, unknown host, reset, bad URL). */
export class ServerUnreachableError extends PrunnerError {
  constructor(readonly url: string, reason: string) {
    super(`cannot reach prunner at ${url}: ${reason} (set --server or $PRUNNER_SERVER)`);
  }
}

/** The server refused the token (401). */
export class UnauthorizedError extends PrunnerError {
  constructor(reason: string, tokenSource: string) {
    super(`the server refused the token: ${reason}; ${tokenSource}`);
  }
}

/** Neither `$PRUNNER_TOKEN` nor a JWT secret to sign a token with was found. */
export class NoCredentialsError extends PrunnerError {
  constructor(configPath: string) {
    super(
      `no token: set $PRUNNER_TOKEN, or the server's secret with --jwt-secret or ` +
        `$PRUNNER_JWT_SECRET, or --config to its config file (${configPath} has no jwt_secret)`,
    );
  }
}

/** The server answered a request with an error status. */
export class ApiError extends PrunnerError {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Scheduling named a pipeline that the server does not define. */
export class UnknownPipelineError extends PrunnerError {
  constructor(readonly pipeline: string, readonly known: readonly string[]) {
    super(
      `pipeline "${pipeline}" is not defined; ${
        known.length === 0
          ? "the server has no pipelines"
          : `defined pipelines: ${known.join(", ")}`
      }`,
    );
  }
}

/** The server does not offer a route the client needs (an older prunner, or the Go one). */
export class UnsupportedError extends PrunnerError {
  constructor(what: string, url: string) {
    super(`the prunner at ${url} does not support ${what}; it needs a newer prunner`);
  }
}

/** A task name that the job does not have. */
export class UnknownTaskError extends PrunnerError {
  constructor(readonly jobId: string, readonly task: string, readonly known: readonly string[]) {
    super(`job ${jobId} has no task "${task}"; its tasks: ${known.join(", ")}`);
  }
}

/** An event of a known kind whose data is not what prunner sends. */
export class MalformedEventError extends PrunnerError {
  constructor(readonly event: string, reason: string) {
    super(
      `the server sent a "${event}" event that prunner does not send (${reason}); ` +
        "is a proxy between client and server changing the stream?",
    );
  }
}
