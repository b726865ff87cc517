import {
  admit,
  emptyQueue,
  isSchedulable,
  type PipelineQueue,
  removeWaiting,
  takeDueJobs,
} from "../../src/engine/wait_list.ts";
import { assertEquals } from "../assert.ts";
import { pipeline } from "./fixtures.ts";

function queueWith(running: number, ...waiting: [string, string | null][]): PipelineQueue {
  return {
    running,
    waiting: waiting.map(([id, partition], i) => ({ id, created: i, startDelayMs: 0, partition })),
  };
}

Deno.test("a job starts at once while the pipeline has a free slot", () => {
  const def = pipeline({ concurrency: 2 });
  assertEquals(admit(def, queueWith(0), null), { kind: "start" });
  assertEquals(admit(def, queueWith(1), null), { kind: "start" });
  assertEquals(admit(def, queueWith(2), null), { kind: "queue", replaces: null });
});

Deno.test("append without queue_limit queues without bound", () => {
  const waiting = Array.from({ length: 500 }, (_, i) => [`j${i}`, null] as [string, null]);
  assertEquals(admit(pipeline(), queueWith(1, ...waiting), null), {
    kind: "queue",
    replaces: null,
  });
});

Deno.test("append refuses while queue_limit jobs wait", () => {
  const def = pipeline({ queueLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), { kind: "queue", replaces: null });
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
  assertEquals(admit(def, queueWith(1), null), { kind: "queue", replaces: null });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), { kind: "queue", replaces: "a" });
});

Deno.test("replace with queue_limit 2 keeps the first waiting job and replaces the last", () => {
  const def = pipeline({ queueStrategy: "replace", queueLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), { kind: "queue", replaces: null });
  assertEquals(admit(def, queueWith(1, ["a", null], ["b", null]), null), {
    kind: "queue",
    replaces: "b",
  });
});

Deno.test("replace without queue_limit keeps one waiting job", () => {
  const def = pipeline({ queueStrategy: "replace" });
  assertEquals(admit(def, queueWith(1), null), { kind: "queue", replaces: null });
  assertEquals(admit(def, queueWith(1, ["a", null]), null), { kind: "queue", replaces: "a" });
  assertEquals(isSchedulable(def, queueWith(1, ["a", null])), true);
});

Deno.test("partitioned_replace replaces only within the job's partition", () => {
  const def = pipeline({ queueStrategy: "partitioned_replace", queuePartitionLimit: 1 });
  const queue = queueWith(1, ["a1", "a"], ["b1", "b"]);
  assertEquals(admit(def, queue, "a"), { kind: "queue", replaces: "a1" });
  assertEquals(admit(def, queue, "b"), { kind: "queue", replaces: "b1" });
  assertEquals(admit(def, queue, "c"), { kind: "queue", replaces: null });
});

Deno.test("partitioned_replace fills each partition up to queue_partition_limit", () => {
  const def = pipeline({ queueStrategy: "partitioned_replace", queuePartitionLimit: 2 });
  assertEquals(admit(def, queueWith(1, ["a1", "a"], ["b1", "b"]), "a"), {
    kind: "queue",
    replaces: null,
  });
  assertEquals(admit(def, queueWith(1, ["a1", "a"], ["b1", "b"], ["a2", "a"]), "a"), {
    kind: "queue",
    replaces: "a2",
  });
});

Deno.test("a start delay queues jobs even when slots are free", () => {
  const def = pipeline({ startDelayMs: 1000, concurrency: 3 });
  assertEquals(admit(def, queueWith(0), null), { kind: "queue", replaces: null });
});

Deno.test("takeDueJobs starts waiting jobs in order while slots are free", () => {
  const queue = queueWith(0, ["a", "x"], ["b", "y"], ["c", "x"]);
  const due = takeDueJobs(queue, 2, 10);
  assertEquals(due.start.map((j) => j.id), ["a", "b"]);
  assertEquals(due.wakeAt, null);
  assertEquals(queue.running, 2);
  assertEquals(queue.waiting.map((j) => j.id), ["c"]);
  assertEquals(takeDueJobs(queue, 2, 10).start, []);
});

Deno.test("takeDueJobs waits for start delays and reports when the next one ends", () => {
  const queue = emptyQueue();
  queue.waiting.push({ id: "a", created: 100, startDelayMs: 50, partition: null });
  queue.waiting.push({ id: "b", created: 120, startDelayMs: 50, partition: null });
  const early = takeDueJobs(queue, 5, 140);
  assertEquals(early.start, []);
  assertEquals(early.wakeAt, 150);
  const later = takeDueJobs(queue, 5, 150);
  assertEquals(later.start.map((j) => j.id), ["a"]);
  assertEquals(later.wakeAt, 170);
});

Deno.test("removeWaiting frees the slot of a canceled waiting job", () => {
  const def = pipeline({ queueLimit: 1 });
  const queue = queueWith(1, ["a", null]);
  assertEquals(isSchedulable(def, queue), false);
  assertEquals(removeWaiting(queue, "a"), true);
  assertEquals(removeWaiting(queue, "a"), false);
  assertEquals(isSchedulable(def, queue), true);
});

Deno.test("debounce: five rapid schedules with replace and a delay leave only the last", () => {
  const def = pipeline({ queueStrategy: "replace", queueLimit: 1, startDelayMs: 1000 });
  const queue = emptyQueue();
  const canceled: string[] = [];
  for (let i = 0; i < 5; i++) {
    const admission = admit(def, queue, null);
    if (admission.kind !== "queue") throw new Error("expected queueing");
    if (admission.replaces) {
      canceled.push(admission.replaces);
      removeWaiting(queue, admission.replaces);
    }
    queue.waiting.push({ id: `j${i}`, created: i * 10, startDelayMs: 1000, partition: null });
  }
  assertEquals(canceled, ["j0", "j1", "j2", "j3"]);
  assertEquals(takeDueJobs(queue, 1, 1039).start, []);
  assertEquals(takeDueJobs(queue, 1, 1040).start.map((j) => j.id), ["j4"]);
});
