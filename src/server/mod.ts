/**
 * prunner's HTTP API: routes, authentication, JSON and serving.
 *
 * @example
 * ```ts
 * import { createApp, startServer } from "./src/server/mod.ts";
 *
 * const app = createApp({
 *   runner, secret, isShuttingDown: () => runner.isShuttingDown(), metrics,
 * });
 * const server = await startServer(app, "localhost:9009");
 * ```
 *
 * @module
 */
export { type AppOptions, createApp } from "./app.ts";
export { type ClusterHealth, type HealthProblems } from "./routes/health.ts";
export { type ClusterView } from "./routes/cluster.ts";
export { type ClusterLogs } from "./routes/logs.ts";
export { MAX_BODY_BYTES } from "./routes/pipelines.ts";
export { type AppEnv } from "./routes/sub_app.ts";
export { authenticate, type AuthResult } from "./auth.ts";
export { ClusterModeOffError, statusFor, TaskNotFoundError } from "./errors.ts";
export { formatTime, type JobJson, jobToJson, type TaskJson, taskToJson } from "./json.ts";
export {
  AddressError,
  type FetchApp,
  type ListenAddress,
  parseAddress,
  type RunningServer,
  startServer,
} from "./listen.ts";
