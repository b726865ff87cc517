import { jobJson } from "../client/support.ts";
import { formatDuration, jobStatus, parseVariables } from "../../src/ui/client/format.ts";
import { layoutTasks } from "../../src/ui/client/graph.ts";
import { applyEvent } from "../../src/ui/client/live.ts";
import { parseRoute, type Route, routeHref } from "../../src/ui/client/route.ts";
import { assert, assertEquals } from "../assert.ts";

Deno.test("jobStatus: waiting, running and the three ends", () => {
  assertEquals(jobStatus(jobJson("a")), "waiting");
  assertEquals(jobStatus(jobJson("a", { start: "2026-11-30T10:00:01Z" })), "running");
  assertEquals(jobStatus(jobJson("a", { completed: true })), "done");
  assertEquals(jobStatus(jobJson("a", { completed: true, errored: true })), "error");
  assertEquals(
    jobStatus(jobJson("a", { completed: true, canceled: true, errored: true })),
    "canceled",
  );
});

Deno.test("formatDuration: milliseconds to hours", () => {
  assertEquals(
    [0, 999, 1500, 59_949, 60_000, 245_000, 3_600_000, 7_380_000].map(formatDuration),
    ["0ms", "999ms", "1.5s", "59.9s", "1m 00s", "4m 05s", "1h 00m", "2h 03m"],
  );
});

Deno.test("parseVariables: empty is none; only a JSON object is accepted", () => {
  assertEquals(parseVariables("  "), { ok: true, variables: null });
  assertEquals(parseVariables('{"tag": "v1", "n": 2}'), {
    ok: true,
    variables: { tag: "v1", n: 2 },
  });
  for (const text of ["[1]", "null", '"x"', "3"]) {
    const result = parseVariables(text);
    assert(!result.ok && /must be a JSON object/.test(result.error), text);
  }
  const broken = parseVariables("{tag: v1}");
  assert(!broken.ok && /not valid JSON/.test(broken.error), "syntax error is reported");
});

Deno.test("routes: every screen round-trips through its fragment", () => {
  const routes: Route[] = [
    { screen: "pipelines" },
    { screen: "jobs", pipeline: "", status: "" },
    { screen: "jobs", pipeline: "a b/c", status: "error" },
    { screen: "job", id: "0b5c", task: null },
    { screen: "job", id: "0b5c", task: "build/all #1" },
  ];
  for (const route of routes) assertEquals(parseRoute(routeHref(route)), route);
  assertEquals(parseRoute(""), { screen: "pipelines" });
  assertEquals(parseRoute("#/nonsense"), { screen: "pipelines" });
});

Deno.test("layoutTasks: dependencies go left to right and arrows join the boxes", () => {
  const layout = layoutTasks([
    { name: "build" },
    { name: "lint" },
    { name: "test", dependsOn: ["build", "lint"] },
    { name: "deploy", dependsOn: ["test", "gone"] },
  ]);
  const x = (name: string) => layout.nodes.find((n) => n.name === name)!.x;
  assert(x("build") < x("test") && x("lint") < x("test") && x("test") < x("deploy"));
  assertEquals(
    layout.edges.map((e) => `${e.from}->${e.to}`).sort(),
    ["build->test", "lint->test", "test->deploy"],
  );
  for (const node of layout.nodes) {
    assert(node.x >= 0 && node.y >= 0, `${node.name} inside`);
    assert(node.x + node.width <= layout.width && node.y + node.height <= layout.height);
  }
  for (const edge of layout.edges) assert(edge.points.length >= 2, "an arrow has points");
});

Deno.test("applyEvent: updates, adds scheduled jobs of the shown pipeline on top, removes", () => {
  const list = [jobJson("b"), jobJson("a")];
  const started = jobJson("a", { start: "2026-11-30T10:00:05Z" });
  assertEquals(applyEvent(list, { type: "job_started", job: started }, ""), [
    jobJson("b"),
    started,
  ]);
  const c = jobJson("c");
  assertEquals(applyEvent(list, { type: "job_scheduled", job: c }, ""), [c, ...list]);
  assertEquals(applyEvent(list, { type: "job_scheduled", job: c }, "build"), [c, ...list]);
  assertEquals(applyEvent(list, { type: "job_scheduled", job: c }, "deploy"), list);
  assertEquals(applyEvent(list, { type: "job_completed", job: jobJson("zzz") }, ""), list);
  assertEquals(applyEvent(list, { type: "jobs_removed", ids: ["a", "x"] }, ""), [jobJson("b")]);
});
