/**
 * `GET /cluster`: the nodes of the cluster this prunner is a node of, with their heartbeats and
 * running jobs; on a single prunner a 404 saying that cluster mode is off.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ClusterNode } from "../../cluster/mod.ts";
import { ClusterModeOffError } from "../errors.ts";
import { formatTime } from "../json.ts";
import { clusterRoute } from "../routes.ts";
import { apiRouter, type AppEnv } from "./sub_app.ts";

/** What `GET /cluster` shows: this node's name and every node (e.g. a `ClusterMember`). */
export interface ClusterView {
  readonly name: string;
  /**
   * The nodes as the database has them.
   *
   * @throws {DatabaseUnavailableError} when the database does not answer (503).
   */
  nodes(): Promise<readonly ClusterNode[]>;
}

/**
 * The cluster route; without `cluster` (a single prunner) it answers 404.
 *
 * @example
 * ```ts
 * app.route("/", clusterRoutes(node ?? undefined));
 * ```
 */
export function clusterRoutes(cluster?: ClusterView): OpenAPIHono<AppEnv> {
  const app = apiRouter();
  app.openapi(clusterRoute, async (c) => {
    if (cluster === undefined) throw new ClusterModeOffError();
    const nodes = await cluster.nodes();
    return c.json({
      node: cluster.name,
      nodes: nodes.map((node) => ({
        name: node.name,
        address: node.address,
        started: formatTime(node.started),
        heartbeatAgeMs: node.heartbeatAgeMs,
        alive: node.alive,
        self: node.self,
        jobs: [...node.jobs],
      })),
    }, 200);
  });
  return app;
}
