/**
 * The UI's client of prunner's HTTP API. Every URL is relative to the page, so the UI works
 * behind a reverse proxy that serves prunner under a path prefix (`/ci/ui/` → `/ci/jobs…`).
 *
 * @module
 */
/**
 * A task of a job as the API sends it (the `TaskSchema` of src/server/schemas.ts; written out
 * here because browser code cannot type-check the server's modules).
 */
export interface Task {
  name: string;
  dependsOn?: string[];
  status: "waiting" | "running" | "skipped" | "done" | "error" | "canceled";
  start?: string;
  end?: string;
  skipped: boolean;
  exitCode: number;
  errored: boolean;
  error?: string;
  /** Which attempt of a task with `retries` runs or ran last; absent for the first. */
  attempt?: number;
  /** While the task waits to be retried: when its next attempt starts. */
  retryAt?: string;
  /** Output missing from the task's log files (they could not be written), per stream. */
  droppedOutput?: { stdout?: OutputLoss; stderr?: OutputLoss };
}

/** Output of one stream that could not be written to its log file. */
export interface OutputLoss {
  bytes: number;
  reason: string;
}

/** A job as the API sends it (`variables` only from `/job/detail`, not in events). */
export interface Job {
  id: string;
  pipeline: string;
  tasks: Task[];
  completed: boolean;
  canceled: boolean;
  errored: boolean;
  created: string;
  start?: string;
  end?: string;
  lastError?: string;
  variables?: Record<string, unknown>;
  user: string;
  /** Set on a job a trigger of the pipeline's `schedule` started. */
  trigger?: { cron: string; timezone: string; planned: string };
}

/** One entry of `GET /pipelines/status`. */
export interface PipelineStatus {
  pipeline: string;
  schedulable: boolean;
  running: boolean;
  runningJobs: number;
  waitingJobs: number;
  /** When a trigger of the pipeline's `schedule` starts its next job. */
  nextRun?: string;
}

/** One page of `GET /pipelines/jobs?limit=…`. */
export interface JobsPage {
  jobs: Job[];
  /** The cursor of the following (older) page, when there is one. */
  next?: string;
}

/** The output streams of a task. */
export type LogStream = "stdout" | "stderr";

/** The server refused the token (401): the UI goes back to the token screen. */
export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnauthorizedError";
  }
}

/** Any other failed request, with the server's `error` message when it sent one. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/** The API as the screens use it. */
export interface Api {
  pipelines(): Promise<PipelineStatus[]>;
  /** A page of jobs; a page of one `status` may hold fewer than `limit` and still go on. */
  jobs(
    query: { limit: number; before?: string; pipeline?: string; status?: string },
  ): Promise<JobsPage>;
  job(id: string): Promise<Job>;
  schedule(
    pipeline: string,
    variables: Record<string, unknown> | null,
    queuePartition: string,
  ): Promise<string>;
  cancel(id: string): Promise<void>;
  /** The raw log of one stream of a task, for download. */
  rawLog(id: string, task: string, stream: LogStream): Promise<Blob>;
  /** Opens an event stream (`events` or `job/logs/stream?…`) without checking the status. */
  openStream(path: string, lastEventId: string | null, signal: AbortSignal): Promise<Response>;
}

/**
 * Creates the API client. `base` is the URL the API's paths are resolved against (the parent
 * of the UI's own URL); `onUnauthorized` runs before a 401 is thrown as `UnauthorizedError`.
 *
 * @example
 * ```ts
 * const api = createApi(new URL("../", document.baseURI), token, () => showTokenScreen());
 * const pipelines = await api.pipelines();
 * ```
 */
export function createApi(
  base: URL,
  token: string,
  onUnauthorized: (message: string) => void,
): Api {
  const url = (path: string) => new URL(path, base).href;
  const headers = (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${token}`,
    ...extra,
  });

  async function request(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await fetch(url(path), {
      method,
      headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.ok) return response;
    const message = await errorMessage(response);
    if (response.status === 401) {
      onUnauthorized(message);
      throw new UnauthorizedError(message);
    }
    throw new ApiError(response.status, message);
  }

  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
    await (await request(method, path, body)).json() as T;

  return {
    async pipelines() {
      return (await json<{ pipelines: PipelineStatus[] }>("GET", "pipelines/status")).pipelines;
    },
    async jobs({ limit, before, pipeline, status }) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (before !== undefined) query.set("before", before);
      if (pipeline !== undefined) query.set("pipeline", pipeline);
      if (status !== undefined) query.set("status", status);
      const page = await json<JobsPage>("GET", `pipelines/jobs?${query}`);
      return { jobs: page.jobs, ...(page.next ? { next: page.next } : {}) };
    },
    job: (id) => json<Job>("GET", `job/detail?${new URLSearchParams({ id })}`),
    async schedule(pipeline, variables, queuePartition) {
      const body = {
        pipeline,
        ...(variables !== null ? { variables } : {}),
        ...(queuePartition !== "" ? { queuePartition } : {}),
      };
      return (await json<{ jobId: string }>("POST", "pipelines/schedule", body)).jobId;
    },
    async cancel(id) {
      await (await request("POST", `job/cancel?${new URLSearchParams({ id })}`)).body?.cancel();
    },
    async rawLog(id, task, stream) {
      const query = new URLSearchParams({ id, task, stream });
      return await (await request("GET", `job/logs/raw?${query}`)).blob();
    },
    async openStream(path, lastEventId, signal) {
      const response = await fetch(url(path), {
        headers: headers(lastEventId === null ? {} : { "last-event-id": lastEventId }),
        signal,
      });
      if (response.status === 401) onUnauthorized(await errorMessage(response));
      return response;
    },
  };
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    if (typeof body?.error === "string") return body.error;
  } catch {
    // not JSON: fall back to the status line
  }
  return `${response.status} ${response.statusText}`.trim();
}

const TOKEN_KEY = "prunner.token";

/** The token kept for this browser tab, if any. */
export function loadToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps a token for this browser tab; a pasted `Bearer …` header value is accepted too. */
export function saveToken(token: string): string {
  const clean = token.trim().replace(/^bearer\s+/i, "");
  sessionStorage.setItem(TOKEN_KEY, clean);
  return clean;
}

/** Forgets the token. */
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
