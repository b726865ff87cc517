/**
 * Errors of the data directory and the job store.
 *
 * @module
 */
import { errorMessage, PrunnerError } from "../errors.ts";

/** Another prunner holds the data directory's lock. */
export class DataDirLockedError extends PrunnerError {
  constructor(readonly dir: string, readonly pid: number | null) {
    super(
      `data directory ${dir} is in use by another prunner (${
        pid === null ? "pid unknown" : `pid ${pid}`
      }): stop that process or start this one with a different --data directory`,
    );
  }
}

/** The data directory or the job store in it cannot be opened. Nothing was deleted. */
export class StoreOpenError extends PrunnerError {
  constructor(readonly path: string, override readonly cause: unknown) {
    super(
      `cannot open the job store ${path}: ${
        errorMessage(cause)
      } (nothing was changed; fix or move ` +
        `the file away, or start with a different --data directory)`,
    );
  }
}

/** The store holds data in a format this version of prunner does not read. */
export class StoreFormatError extends PrunnerError {
  constructor(readonly found: unknown, readonly expected: number) {
    super(
      `the store was written in format ${JSON.stringify(found)}, this prunner reads format ` +
        `${expected} (was it written by a newer prunner?)`,
    );
  }
}

/** A job could not be written to the store. */
export class StoreWriteError extends PrunnerError {
  /**
   * `cause` is the reason: a message or the error that made the write fail; `dataDir` the data
   * directory of the store, when known.
   */
  constructor(
    readonly jobId: string,
    override readonly cause: unknown,
    readonly dataDir: string | null = null,
  ) {
    super(
      `cannot save job ${jobId}: ${errorMessage(cause)}${
        dataDir === null ? "" : ` (data directory ${dataDir})`
      }`,
    );
  }
}

/** A stored job is damaged: a part of its record is missing or unreadable. */
export class StoreReadError extends PrunnerError {
  constructor(readonly jobId: string, reason: string) {
    super(`cannot read job ${jobId} from the store: ${reason}`);
  }
}

/** The job store in a PostgreSQL database cannot be opened. Nothing was changed. */
export class DatabaseOpenError extends PrunnerError {
  /** `database` names the database (its URL without the password). */
  constructor(readonly database: string, override readonly cause: unknown) {
    super(
      `cannot open the job store in the PostgreSQL database ${database}: ${
        errorMessage(cause)
      } (nothing was changed; check that the server runs and that the URL, user and password ` +
        `are right)`,
    );
  }
}

/**
 * The PostgreSQL database of a cluster did not answer a decision (it restarts, fails over, or
 * cannot be reached): nothing of the decision was stored, and it can be asked for again once
 * the database is back.
 */
export class DatabaseUnavailableError extends PrunnerError {
  /** `database` names the database (its URL without the password). */
  constructor(readonly database: string, override readonly cause: unknown) {
    super(
      `the PostgreSQL database ${database} did not answer: ${errorMessage(cause)} (nothing ` +
        `was changed; try again once the database is back)`,
    );
  }
}
