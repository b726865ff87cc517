import { newTask } from "../../src/engine/create_job.ts";
import { decideRestore } from "../../src/engine/restore.ts";
import {
  finishTask,
  markJobStarted,
  markTaskStarted,
  ON_ERROR_TASK,
} from "../../src/engine/task_graph.ts";
import { assertEquals } from "../assert.ts";
import { newJob, pipeline } from "./fixtures.ts";

const FAIL = { exitCode: 42, error: "exit status 42", killed: false };
const RETRY = { retries: 1, retryDelayMs: 1000, retryOnTimeout: false };

function waitingJob() {
  const definition = pipeline({ tasks: { a: {}, b: {} } });
  return { job: newJob(definition), definition };
}

/** A started job whose task "a" failed and waits out its retry delay; "b" ran nothing yet. */
function retryingJob() {
  const { job, definition } = waitingJob();
  markJobStarted(job, 0);
  const a = job.tasks.find((t) => t.name === "a")!;
  markTaskStarted(a, 0);
  finishTask(job, a, FAIL, true, 1, RETRY);
  return { job, definition };
}

Deno.test("a job that never started waits again", () => {
  const { job, definition } = waitingJob();
  assertEquals(decideRestore(job, definition), { kind: "wait" });
});

Deno.test("a waiting job of a pipeline that is gone ends", () => {
  const { job } = waitingJob();
  assertEquals(decideRestore(job, undefined), {
    kind: "end",
    reason: 'canceled: pipeline "p" no longer exists',
    wasRunning: false,
  });
});

Deno.test("a job waiting out a retry delay goes on while its pipeline has its tasks", () => {
  const { job, definition } = retryingJob();
  assertEquals(decideRestore(job, definition), { kind: "resume" });
  job.tasks.push(newTask(ON_ERROR_TASK, []));
  assertEquals(
    decideRestore(job, definition),
    { kind: "resume" },
    "on_error is no task of its own",
  );
  assertEquals(decideRestore(job, pipeline({ tasks: { a: {} } })), {
    kind: "end",
    reason: `interrupted: pipeline "p" no longer has the job's tasks`,
    wasRunning: false,
  });
  assertEquals(decideRestore(job, undefined), {
    kind: "end",
    reason: 'canceled: pipeline "p" no longer exists',
    wasRunning: false,
  });
});

Deno.test("a job that ran a task when prunner stopped was interrupted", () => {
  const { job, definition } = retryingJob();
  markTaskStarted(job.tasks.find((t) => t.name === "b")!, 2);
  assertEquals(decideRestore(job, definition), {
    kind: "end",
    reason: "interrupted: prunner stopped while the job was running",
    wasRunning: true,
  });
});
