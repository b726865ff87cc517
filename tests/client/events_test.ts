import { MalformedEventError } from "../../src/client/errors.ts";
import { concernsJob, decodeEvent, decodeLogEvent } from "../../src/client/events.ts";
import { jobJson } from "./support.ts";
import { assertEquals, assertThrows } from "../assert.ts";

const message = (event: string | undefined, data: unknown) => ({
  event,
  data: typeof data === "string" ? data : JSON.stringify(data),
});

Deno.test("decodeEvent: known events become typed; malformed and unknown ones null", () => {
  const a = jobJson("a");
  assertEquals(decodeEvent(message("job_started", { job: a })), { type: "job_started", job: a });
  assertEquals(decodeEvent(message("task_finished", { job: a, task: "t" })), {
    type: "task_finished",
    job: a,
    task: "t",
  });
  assertEquals(decodeEvent(message("jobs_removed", { ids: ["a", "b"] })), {
    type: "jobs_removed",
    ids: ["a", "b"],
  });
  assertEquals(decodeEvent(message("reload", {})), { type: "reload" });
  assertEquals(decodeEvent(message("pipelines_reloaded", {})), { type: "pipelines_reloaded" });
  assertEquals(decodeEvent(message("job_started", {})), null);
  assertEquals(decodeEvent(message("job_started", "not json")), null);
  assertEquals(decodeEvent(message("jobs_removed", { ids: "a" })), null);
  assertEquals(decodeEvent(message("something_new", {})), null);
  assertEquals(decodeEvent(message(undefined, { job: a })), null);
});

Deno.test("concernsJob: events naming the job, and reload, concern it", () => {
  const a = jobJson("a");
  const concerned = [
    { type: "job_completed" as const, job: a },
    { type: "task_started" as const, job: a, task: "t" },
    { type: "jobs_removed" as const, ids: ["x", "a"] },
    { type: "reload" as const },
  ];
  for (const event of concerned) assertEquals(concernsJob(event, "a"), true, event.type);
  const others = [
    { type: "job_completed" as const, job: jobJson("b") },
    { type: "jobs_removed" as const, ids: ["ab"] },
    { type: "pipelines_reloaded" as const },
  ];
  for (const event of others) assertEquals(concernsJob(event, "a"), false, event.type);
});

Deno.test("decodeLogEvent: output and end become typed; unknown kinds are null", () => {
  assertEquals(decodeLogEvent(message("stdout", { text: "hi\n" })), {
    type: "stdout",
    text: "hi\n",
  });
  assertEquals(decodeLogEvent(message("stderr", { text: "" })), { type: "stderr", text: "" });
  assertEquals(decodeLogEvent(message("end", { status: "error", exitCode: 3 })), {
    type: "end",
    status: "error",
    exitCode: 3,
  });
  assertEquals(decodeLogEvent(message("progress", "whatever")), null);
  assertEquals(decodeLogEvent(message(undefined, { text: "x" })), null);
});

Deno.test("decodeLogEvent: a known event with other data is an error naming the event", () => {
  const cases: [string, unknown][] = [
    ["stdout", "not json"],
    ["stdout", { text: 1 }],
    ["stderr", []],
    ["end", { status: "done" }],
    ["end", { exitCode: 0 }],
  ];
  for (const [event, data] of cases) {
    const error = assertThrows(() => decodeLogEvent(message(event, data)), MalformedEventError);
    assertEquals(error.event, event);
  }
});
