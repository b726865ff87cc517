/**
 * The UI's screens addressed by the URL fragment (`#/jobs`, `#/job/ID/task/NAME`), so every
 * screen has a link and the browser's back button works, with no server routes.
 *
 * @module
 */

/** A screen and its parameters. */
export type Route =
  | { screen: "pipelines" }
  | { screen: "jobs"; pipeline: string; status: string }
  | { screen: "job"; id: string; task: string | null };

/**
 * Reads a route from a fragment; anything unknown is the pipelines screen.
 *
 * @example
 * ```ts
 * parseRoute("#/job/abc/task/build"); // { screen: "job", id: "abc", task: "build" }
 * ```
 */
export function parseRoute(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  const parts = path.split("/").map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts[0] === "jobs") {
    return {
      screen: "jobs",
      pipeline: params.get("pipeline") ?? "",
      status: params.get("status") ?? "",
    };
  }
  if (parts[0] === "job" && parts[1]) {
    return { screen: "job", id: parts[1], task: parts[2] === "task" && parts[3] ? parts[3] : null };
  }
  return { screen: "pipelines" };
}

/**
 * The fragment of a route.
 *
 * @example
 * ```ts
 * routeHref({ screen: "jobs", pipeline: "build", status: "" }); // "#/jobs?pipeline=build"
 * ```
 */
export function routeHref(route: Route): string {
  switch (route.screen) {
    case "pipelines":
      return "#/pipelines";
    case "jobs": {
      const query = new URLSearchParams();
      if (route.pipeline) query.set("pipeline", route.pipeline);
      if (route.status) query.set("status", route.status);
      const text = query.toString();
      return text ? `#/jobs?${text}` : "#/jobs";
    }
    case "job": {
      const job = `#/job/${encodeURIComponent(route.id)}`;
      return route.task === null ? job : `${job}/task/${encodeURIComponent(route.task)}`;
    }
  }
}
