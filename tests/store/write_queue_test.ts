import { assert, assertEquals, assertRejects } from "../assert.ts";
import { createWriteQueue, type Waiting } from "../../src/store/kv/write_queue.ts";

/** A queue whose writes record their values and settle as `settle` says (fulfil by default). */
function recordingQueue(settle: (entry: Waiting<string>) => void = (entry) => entry.resolve()) {
  const writes: string[][] = [];
  const started = Promise.withResolvers<void>();
  let hold: Promise<void> | null = null;
  const queue = createWriteQueue<string>(async (batch) => {
    writes.push(batch.map((entry) => entry.value));
    started.resolve();
    if (hold !== null) await hold;
    batch.forEach(settle);
  });
  return {
    queue,
    writes,
    /** Resolves once the first write has begun. */
    started: started.promise,
    /** Makes writes wait until the returned function is called. */
    holdWrites(): () => void {
      const { promise, resolve } = Promise.withResolvers<void>();
      hold = promise;
      return () => {
        hold = null;
        resolve();
      };
    },
  };
}

Deno.test("values added in the same moment are written together, the latest of a key winning", async () => {
  const { queue, writes } = recordingQueue();
  const added = [queue.add("a", "a1"), queue.add("b", "b1"), queue.add("a", "a2")];
  assert(queue.waiting);
  await Promise.all(added);
  assertEquals(writes, [["a2", "b1"]]);
  assert(!queue.waiting);
});

Deno.test("values added while a write runs go into the next write, together", async () => {
  const { queue, writes, started, holdWrites } = recordingQueue();
  const release = holdWrites();
  const first = queue.add("a", "a1");
  await started;
  const later = [queue.add("a", "a2"), queue.add("b", "b1")];
  release();
  await Promise.all([first, ...later]);
  assertEquals(writes, [["a1"], ["a2", "b1"]]);
});

Deno.test("a rejected value rejects every add of it, and only those", async () => {
  const { queue } = recordingQueue((entry) =>
    entry.value === "bad" ? entry.reject(new Error("refused")) : entry.resolve()
  );
  const first = queue.add("x", "first");
  const second = queue.add("x", "bad");
  const other = queue.add("y", "good");
  await assertRejects(() => first, Error, "refused");
  await assertRejects(() => second, Error, "refused");
  await other;
});

Deno.test("operations run one after the other, in the order they were queued", async () => {
  const { queue, writes } = recordingQueue();
  const order: string[] = [];
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const slow = queue.run(async () => {
    await gate;
    order.push("slow");
  });
  const failing = queue.run(() => Promise.reject(new Error("failed")));
  const fast = queue.run(() => {
    order.push("fast");
    return Promise.resolve();
  });
  const saved = queue.add("a", "a1");
  open();
  await slow;
  await assertRejects(() => failing, Error, "failed");
  await fast;
  await saved;
  assertEquals(order, ["slow", "fast"]);
  assertEquals(writes, [["a1"]]);
});

Deno.test("flush writes what was added before it and resolves once written", async () => {
  const { queue, writes } = recordingQueue();
  let written = false;
  queue.add("a", "a1").then(() => written = true);
  await queue.flush();
  assert(written, "flush resolved before the write settled");
  assertEquals(writes, [["a1"]]);
  await queue.flush();
  assertEquals(writes, [["a1"]], "a flush with nothing added writes nothing");
});
