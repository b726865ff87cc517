import {
  type AdmissionDecision,
  decideAdmission,
  decideDueStarts,
  isSchedulable,
  type PipelineQueue,
  type QueueSettings,
  type WaitingJob,
} from "../../src/engine/wait_list.ts";
import { assertEquals } from "../assert.ts";
import { pipeline } from "./fixtures.ts";

function queueWith(running: number, ...waiting: [string, string | null][]): PipelineQueue {
  return {
    running,
    waiting: waiting.map(([id, partition], i) => ({ id, created: i, startDelayMs: 0, partition })),
  };
}

/** The decision for a new job "new" of `partition`, scheduled at time 100 with no delay. */
function admit(
  settings: QueueSettings,
  queue: PipelineQueue,
  partition: string | null,
): AdmissionDecision {
  const job = { id: "new", created: 100, startDelayMs: settings.startDelayMs, partition };
  return decideAdmission(settings, queue, job, 100);
}

/** A decision to wait, replacing `replaces`, with nothing else due. */
function wait(replaces: string | null): AdmissionDecision {
  return { kind: "wait", replaces, start: [], wakeAt: null };
}

Deno.test("a job starts at once while the pipeline has a free slot", () => {
  const def = pipeline({ concurrency: 2 });
  assertEquals(admit(def, queueWith(0), null), { kind: "start" });
  assertEquals(admit(def, queueWith(1), null), { kind: "start" });
  assertEquals(admit(def, queueWith(2), null), wait(null));
});

Deno.test("append without queue_limit queues without bound", () => {
  const waiting = Array.from({ length: 500 }, (_, i) => [`j${i}`, null] as [string, null]);
  assertEquals(admit(pipeline(), queueWith(1, ...waiting), null), wait(null));
});

Deno.test("append refuses while queue_limit jobs wait", () => {
  const def = pipeline({ queueLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), wait(null));
  assertEquals(admit(def, queueWith(1, ["a", null], ["b", null]), null), {
    kind: "refuse",
    reason: "queue_full",
    limit: 2,
  });
  assertEquals(isSchedulable(def, queueWith(1, ["a", null], ["b", null])), false);
});

Deno.test("queue_limit 0 starts jobs while idle and refuses them at the concurrency limit", () => {
  const def = pipeline({ queueLimit: 0 });
  assertEquals(admit(def, queueWith(0), null), { kind: "start" });
  assertEquals(isSchedulable(def, queueWith(0)), true);
  assertEquals(admit(def, queueWith(1), null), {
    kind: "refuse",
    reason: "queue_disabled",
    limit: 0,
  });
  assertEquals(isSchedulable(def, queueWith(1)), false);
});

Deno.test("replace with queue_limit 1 replaces the waiting job", () => {
  const def = pipeline({ queueStrategy: "replace", queueLimit: 1 });
  assertEquals(admit(def, queueWith(1), null), wait(null));
  assertEquals(admit(def, queueWith(1, ["a", null]), null), wait("a"));
});

Deno.test("replace with queue_limit 2 keeps the first waiting job and replaces the last", () => {
  const def = pipeline({ queueStrategy: "replace", queueLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), wait(null));
  assertEquals(admit(def, queueWith(1, ["a", null], ["b", null]), null), wait("b"));
});

Deno.test("replace without queue_limit keeps one waiting job", () => {
  const def = pipeline({ queueStrategy: "replace" });
  assertEquals(admit(def, queueWith(1), null), wait(null));
  assertEquals(admit(def, queueWith(1, ["a", null]), null), wait("a"));
  assertEquals(isSchedulable(def, queueWith(1, ["a", null])), true);
});

Deno.test("partitioned_replace replaces only within the job's partition", () => {
  const def = pipeline({ queueStrategy: "partitioned_replace", queuePartitionLimit: 1 });
  const queue = queueWith(1, ["a1", "a"], ["b1", "b"]);
  assertEquals(admit(def, queue, "a"), wait("a1"));
  assertEquals(admit(def, queue, "b"), wait("b1"));
  assertEquals(admit(def, queue, "c"), wait(null));
});

Deno.test("partitioned_replace fills each partition up to queue_partition_limit", () => {
  const def = pipeline({ queueStrategy: "partitioned_replace", queuePartitionLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a1", "a"], ["b1", "b"]), "a"), wait(null));
  assertEquals(admit(def, queueWith(1, ["a1", "a"], ["b1", "b"], ["a2", "a"]), "a"), wait("a2"));
});

Deno.test("a start delay queues jobs even when slots are free", () => {
  const def = pipeline({ startDelayMs: 1000, concurrency: 3 });
  assertEquals(admit(def, queueWith(0), null), {
    kind: "wait",
    replaces: null,
    start: [],
    wakeAt: 1100,
  });
});

Deno.test("waiting jobs start in order while slots are free", () => {
  const queue = queueWith(0, ["a", "x"], ["b", "y"], ["c", "x"]);
  const due = decideDueStarts(queue, 2, 10);
  assertEquals(due.start.map((j) => j.id), ["a", "b"]);
  assertEquals(due.wakeAt, null);
  assertEquals(queue.waiting.length, 3, "the decision leaves the queue as it is");
  assertEquals(decideDueStarts(queueWith(2, ["c", "x"]), 2, 10), { start: [], wakeAt: null });
});

Deno.test("start delays keep jobs waiting; the decision says when the next one ends", () => {
  const a: WaitingJob = { id: "a", created: 100, startDelayMs: 50, partition: null };
  const b: WaitingJob = { id: "b", created: 120, startDelayMs: 50, partition: null };
  assertEquals(decideDueStarts({ running: 0, waiting: [a, b] }, 5, 140), {
    start: [],
    wakeAt: 150,
  });
  assertEquals(decideDueStarts({ running: 0, waiting: [a, b] }, 5, 150), {
    start: [a],
    wakeAt: 170,
  });
  assertEquals(decideDueStarts({ running: 1, waiting: [b] }, 5, 170), { start: [b], wakeAt: null });
});

Deno.test("a full pipeline wakes for nobody: a finished job makes room first", () => {
  const a: WaitingJob = { id: "a", created: 100, startDelayMs: 50, partition: null };
  assertEquals(decideDueStarts({ running: 1, waiting: [a] }, 1, 120), { start: [], wakeAt: null });
});

Deno.test("a new waiting job lets the due jobs before it start", () => {
  // A reload raised the concurrency: the first waiting job may start along with the new one.
  const def = pipeline({ concurrency: 2, startDelayMs: 1000 });
  const queue = queueWith(1, ["a", null]);
  assertEquals(admit(def, queue, null), {
    kind: "wait",
    replaces: null,
    start: [queue.waiting[0]],
    wakeAt: null,
  });
});

Deno.test("the replaced job does not count among the due ones", () => {
  const def = pipeline({ queueStrategy: "replace", concurrency: 2, startDelayMs: 50 });
  const queue = queueWith(1, ["a", null]);
  assertEquals(admit(def, queue, null), {
    kind: "wait",
    replaces: "a",
    start: [],
    wakeAt: 150,
  });
});

Deno.test("a canceled waiting job frees its place", () => {
  const def = pipeline({ queueLimit: 1 });
  assertEquals(isSchedulable(def, queueWith(1, ["a", null])), false);
  assertEquals(isSchedulable(def, queueWith(1)), true);
});

Deno.test("debounce: five rapid schedules with replace and a delay leave only the last", () => {
  const def = pipeline({ queueStrategy: "replace", queueLimit: 1, startDelayMs: 1000 });
  let queue: PipelineQueue = { running: 0, waiting: [] };
  const replaced: string[] = [];
  const wakes: (number | null)[] = [];
  for (let i = 0; i < 5; i++) {
    const job = { id: `j${i}`, created: i * 10, startDelayMs: 1000, partition: null };
    const decision = decideAdmission(def, queue, job, i * 10);
    if (decision.kind !== "wait") throw new Error(`expected waiting, got ${decision.kind}`);
    if (decision.replaces) replaced.push(decision.replaces);
    wakes.push(decision.wakeAt);
    queue = {
      running: 0,
      waiting: [...queue.waiting.filter((w) => w.id !== decision.replaces), job],
    };
  }
  assertEquals(replaced, ["j0", "j1", "j2", "j3"]);
  assertEquals(wakes, [1000, 1010, 1020, 1030, 1040]);
  assertEquals(decideDueStarts(queue, 1, 1039).start, []);
  assertEquals(decideDueStarts(queue, 1, 1040).start.map((j) => j.id), ["j4"]);
});
