import { assertEquals } from "../assert.ts";
import { childReaper, LOST_STATUS } from "../../src/executor/reaper.ts";

/** A `waitpid` that answers from `ended`: pid → status word, or -1 for a child reaped elsewhere. */
function fakeWaitpid(ended: Map<number, number>) {
  return {
    waitpid(pid: number, status: AllowSharedBufferSource | null): number {
      const word = ended.get(pid);
      if (word === undefined) return 0;
      if (word === -1) return -1;
      new Int32Array((status as Int32Array).buffer)[0] = word;
      return pid;
    },
  };
}

Deno.test("reaper: a child that has ended already is reaped at once, with its status", async () => {
  const reaper = childReaper(fakeWaitpid(new Map([[41, 3 << 8], [42, 9]])));
  assertEquals(await reaper.wait(41), { success: false, code: 3, signal: null });
  assertEquals(await reaper.wait(42), { success: false, code: 137, signal: "SIGKILL" });
});

Deno.test("reaper: a child someone else reaped ends with its status unknown", async () => {
  const reaper = childReaper(fakeWaitpid(new Map([[43, -1]])));
  assertEquals(await reaper.wait(43), LOST_STATUS);
});

Deno.test("reaper: a running child is reaped by the poll once it has ended", async () => {
  const ended = new Map<number, number>();
  const reaper = childReaper(fakeWaitpid(ended));
  const status = reaper.wait(44);
  ended.set(44, 0);
  assertEquals(await status, { success: true, code: 0, signal: null });
});
