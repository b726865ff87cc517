import { assertEquals } from "../assert.ts";
import { commandStatus, describeStatus } from "../../src/executor/signals.ts";

Deno.test("signals: waitpid status words become Deno's command status", () => {
  assertEquals(commandStatus(0), { success: true, code: 0, signal: null });
  assertEquals(commandStatus(42 << 8), { success: false, code: 42, signal: null });
  assertEquals(commandStatus(9), { success: false, code: 137, signal: "SIGKILL" });
  assertEquals(commandStatus(2 | 0x80), { success: false, code: 130, signal: "SIGINT" });
  assertEquals(commandStatus(64), { success: false, code: 192, signal: null });
});

Deno.test("signals: a process's end is described as Go describes it", () => {
  assertEquals(describeStatus({ success: false, code: 42, signal: null }), "exit status 42");
  assertEquals(describeStatus({ success: false, code: 137, signal: "SIGKILL" }), "signal: killed");
  assertEquals(describeStatus({ success: false, code: 138, signal: "SIGUSR1" }), "signal: SIGUSR1");
});
