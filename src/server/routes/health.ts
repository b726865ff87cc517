/**
 * `GET /health`: whether prunner can store jobs and run tasks, for load balancers and
 * orchestrators. `createApp` serves it without a token.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { healthRoute } from "../routes.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/**
 * The failing parts `GET /health` names, `null` where all is well; in a cluster also this
 * node's view of it.
 */
export interface HealthProblems {
  store: string | null;
  executor: string | null;
  /** In a cluster: this node, its heartbeat and the live nodes; absent on a single prunner. */
  cluster?: ClusterHealth;
}

/** The `cluster` section of `GET /health`. */
export interface ClusterHealth {
  /** This node's name. */
  node: string;
  /** Whether its last heartbeat reached the database. */
  connected: boolean;
  /** Nodes with a heartbeat within the timeout; `null` when the database did not answer. */
  liveNodes: number | null;
}

/**
 * The health route, asking `health` on every request; without it, both parts are reported as
 * fine.
 *
 * @example
 * ```ts
 * app.route("/", healthRoutes(async () => ({ store: null, executor: null })));
 * ```
 */
export function healthRoutes(health?: () => Promise<HealthProblems>): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.openapi(healthRoute, async (c) => {
    const problems: HealthProblems = await (health?.() ?? { store: null, executor: null });
    const failing = problems.store !== null || problems.executor !== null;
    return c.json({
      status: failing ? "failing" as const : "ok" as const,
      store: problems.store ?? "ok",
      executor: problems.executor ?? "ok",
      ...(problems.cluster ? { cluster: problems.cluster } : {}),
    }, failing ? 503 : 200);
  });
  return app;
}
