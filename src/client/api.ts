/**
 * The HTTP client for one prunner: every API call the command-line client makes, with failures
 * turned into the one-line errors of `./errors.ts`.
 *
 * @module
 */
import type { Credentials } from "./connection.ts";
import {
  ApiError,
  ServerUnreachableError,
  UnauthorizedError,
  UnknownPipelineError,
} from "./errors.ts";
import { errorMessage as messageOf } from "../errors.ts";
import type {
  ClusterJson,
  JobJson,
  JobsPageJson,
  LogsJson,
  PipelineJson,
  PipelineStatusJson,
} from "./json.ts";
import { type EventSourceMessage, readEvents } from "./sse.ts";

/** A pipeline, with job counts when the server reports them (`GET /pipelines/status`). */
export type ListedPipeline = PipelineJson & Partial<PipelineStatusJson>;

/** The most jobs the server lists in one page. */
const MAX_PAGE = 1000;

/** What scheduling sends. */
export interface ScheduleRequest {
  pipeline: string;
  variables: Record<string, unknown>;
  /** The wait-list partition, or `null`. */
  partition: string | null;
  /** Sent as `Idempotency-Key`: retries with it get the job of the first request. */
  idempotencyKey: string;
}

/**
 * How long `schedule` waits before it sends the request again after it did not reach the
 * server or its answer was lost, in ms; one entry per retry. The idempotency key makes the
 * retries safe: a request that did arrive is not scheduled twice.
 */
export const SCHEDULE_RETRY_DELAYS_MS: readonly number[] = [250, 1000];

/** The calls of the command-line client to one prunner. */
export interface PrunnerClient {
  /** The server's base URL. */
  readonly url: string;
  /** The pipelines, sorted by name, with job counts where the server has them. */
  pipelines(): Promise<ListedPipeline[]>;
  /**
   * Jobs, newest first: at most `limit`, only of `pipeline` when given, read in pages of at most
   * 1000.
   */
  jobs(query: { pipeline: string | null; limit: number }): Promise<JobJson[]>;
  /** One job. */
  job(id: string): Promise<JobJson>;
  /** A task's output so far. */
  logs(id: string, task: string): Promise<LogsJson>;
  /**
   * Schedules a job and returns its id. A request that does not reach the server (or whose
   * answer is lost) is sent again with the same idempotency key, after each of
   * {@linkcode SCHEDULE_RETRY_DELAYS_MS}.
   *
   * @throws {UnknownPipelineError} listing the defined pipelines when the server has no such
   * pipeline.
   */
  schedule(request: ScheduleRequest): Promise<string>;
  /** Cancels a job. */
  cancel(id: string): Promise<void>;
  /**
   * The nodes of the server's cluster.
   *
   * @throws {ApiError} with status 404 and the server's message when it runs alone.
   */
  cluster(): Promise<ClusterJson>;
  /**
   * Opens `GET /events`; resolves once the server has accepted the subscription, with its
   * events, or `null` when the server has no event stream.
   */
  events(
    options: { lastEventId?: string; onId?: (id: string) => void; signal?: AbortSignal },
  ): Promise<ReadableStream<EventSourceMessage> | null>;
  /**
   * Opens `GET /job/logs/stream` for a task: its output so far, new output as it is written,
   * then an `end` event.
   */
  logStream(id: string, task: string, signal?: AbortSignal): Promise<
    ReadableStream<EventSourceMessage>
  >;
}

/**
 * Creates a client for the prunner at `url`. `fetchFn` replaces `fetch` (tests).
 *
 * @example
 * ```ts
 * const client = createClient("http://localhost:9009", await resolveCredentials(options));
 * const jobId = await client.schedule({
 *   pipeline: "build",
 *   variables: {},
 *   partition: null,
 *   idempotencyKey: crypto.randomUUID(),
 * });
 * ```
 */
export function createClient(
  url: string,
  credentials: Credentials,
  fetchFn: typeof fetch = fetch,
): PrunnerClient {
  async function send(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: await credentials.authorization(),
      ...init.headers,
    };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetchFn(`${url}${path}`, {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init.signal,
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ServerUnreachableError(url, fetchFailure(error));
    }
    if (response.ok) return response;
    const message = await errorMessage(response);
    if (response.status === 401) throw new UnauthorizedError(message, credentials.source);
    throw new ApiError(response.status, message);
  }

  async function json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> {
    const response = await send(method, path, { body, headers });
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        response.status,
        `${method} ${path} answered with something else than JSON`,
      );
    }
  }

  async function sse(path: string, headers: Record<string, string>, signal?: AbortSignal) {
    const response = await send("GET", path, {
      headers: { accept: "text/event-stream", ...headers },
      signal,
    });
    if (response.body === null) throw new ApiError(response.status, `GET ${path} answered nothing`);
    return response.body;
  }

  const client: PrunnerClient = {
    url,
    async pipelines() {
      try {
        return (await json<{ pipelines: PipelineStatusJson[] }>("GET", "/pipelines/status"))
          .pipelines;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        return (await json<{ pipelines: PipelineJson[] }>("GET", "/pipelines/")).pipelines;
      }
    },
    async jobs({ pipeline, limit }) {
      const found: JobJson[] = [];
      let before: string | undefined;
      while (found.length < limit) {
        const query = new URLSearchParams({
          limit: String(Math.min(limit - found.length, MAX_PAGE)),
        });
        if (pipeline !== null) query.set("pipeline", pipeline);
        if (before !== undefined) query.set("before", before);
        const page = await json<JobsPageJson>("GET", `/pipelines/jobs?${query}`);
        // A server without paging answers with every job: filter and cut here as well.
        found.push(...page.jobs.filter((job) => pipeline === null || job.pipeline === pipeline));
        if (page.next === undefined) break;
        before = page.next;
      }
      return found.slice(0, limit);
    },
    job: (id) => json<JobJson>("GET", `/job/detail?id=${encodeURIComponent(id)}`),
    logs: (id, task) =>
      json<LogsJson>(
        "GET",
        `/job/logs?id=${encodeURIComponent(id)}&task=${encodeURIComponent(task)}`,
      ),
    async schedule({ pipeline, variables, partition, idempotencyKey }) {
      const body: Record<string, unknown> = { pipeline, variables };
      if (partition !== null) body.queuePartition = partition;
      const headers = { "idempotency-key": idempotencyKey };
      const post = () => json<{ jobId: string }>("POST", "/pipelines/schedule", body, headers);
      try {
        for (const delay of SCHEDULE_RETRY_DELAYS_MS) {
          try {
            return (await post()).jobId;
          } catch (error) {
            if (!(error instanceof ServerUnreachableError)) throw error;
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
        }
        return (await post()).jobId;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400)) throw error;
        const known = (await client.pipelines()).map((p) => p.pipeline);
        if (!known.includes(pipeline)) throw new UnknownPipelineError(pipeline, known);
        throw error;
      }
    },
    async cancel(id) {
      await json("POST", `/job/cancel?id=${encodeURIComponent(id)}`);
    },
    cluster: () => json<ClusterJson>("GET", "/cluster"),
    async events({ lastEventId, onId, signal }) {
      const headers: Record<string, string> = lastEventId ? { "last-event-id": lastEventId } : {};
      try {
        return readEvents(await sse("/events", headers, signal), onId);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
    async logStream(id, task, signal) {
      const query = `id=${encodeURIComponent(id)}&task=${encodeURIComponent(task)}`;
      return readEvents(await sse(`/job/logs/stream?${query}`, {}, signal));
    },
  };
  return client;
}

/** The `error` of a JSON error answer, else the body's first line, with the status. */
async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  let message = text.split("\n")[0].trim() || response.statusText;
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed?.error === "string") message = parsed.error;
  } catch {
    // Not JSON: the body's text is the message.
  }
  return `${message} (HTTP ${response.status})`;
}

/** Why a request did not reach the server, without the URL that the message repeats. */
function fetchFailure(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = messageOf(cause);
  return message.replace(/^error sending request for url \([^)]*\):\s*/, "")
    .replace(/^client error \(Connect\):\s*/, "");
}
