/**
 * The UI's client of prunner's HTTP API. Every URL is relative to the page, so the UI works
 * behind a reverse proxy that serves prunner under a path prefix (`/ci/ui/` → `/ci/jobs…`).
 *
 * @module
 */
import type { JobJson, JobsPageJson, LogStream, PipelineStatusJson } from "../../client/json.ts";

/** One page of `GET /pipelines/jobs?limit=…`, as the jobs screen uses it. */
export type JobsPage = Pick<JobsPageJson, "jobs" | "next">;

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
  pipelines(): Promise<PipelineStatusJson[]>;
  /** A page of jobs; a page of one `status` may hold fewer than `limit` and still go on. */
  jobs(
    query: { limit: number; before?: string; pipeline?: string; status?: string },
  ): Promise<JobsPage>;
  job(id: string): Promise<JobJson>;
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
      return (await json<{ pipelines: PipelineStatusJson[] }>("GET", "pipelines/status")).pipelines;
    },
    async jobs({ limit, before, pipeline, status }) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (before !== undefined) query.set("before", before);
      if (pipeline !== undefined) query.set("pipeline", pipeline);
      if (status !== undefined) query.set("status", status);
      const page = await json<JobsPageJson>("GET", `pipelines/jobs?${query}`);
      return { jobs: page.jobs, ...(page.next ? { next: page.next } : {}) };
    },
    job: (id) => json<JobJson>("GET", `job/detail?${new URLSearchParams({ id })}`),
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
