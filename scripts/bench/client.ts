/**
 * A client of prunner's HTTP API that sends a bearer token, for the benchmark and the
 * end-to-end tests.
 *
 * @module
 */

/** Requests to one prunner. */
export interface ApiClient {
  /** Sends a request; `body` is sent as JSON. */
  request(method: string, path: string, body?: unknown): Promise<Response>;
  /**
   * Sends a request and returns its 2xx JSON answer.
   *
   * @throws {Error} naming the request, the status and the answer for any other status.
   */
  json<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * Creates a client for the prunner at `url` (no trailing slash).
 *
 * @example
 * ```ts
 * const api = apiClient("http://127.0.0.1:9009", token);
 * const { jobId } = await api.json<{ jobId: string }>("POST", "/pipelines/schedule", {
 *   pipeline: "build",
 * });
 * ```
 */
export function apiClient(url: string, token: string): ApiClient {
  const request = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await request(method, path, body);
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  return { request, json };
}
