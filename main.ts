/**
 * prunner's entry point: parses the command line and runs the command. Started with
 * `__task-executor` as its only argument, it runs as prunner's task executor process instead
 * (see `src/executor/executor_process.ts`), and with `__task-guard MS` as its task guard process
 * (`src/executor/guard_process.ts`); the modules each role needs are loaded on demand, so that
 * these processes stay small.
 *
 * @module
 */
import { EXECUTOR_ARG } from "./src/executor/protocol.ts";
import { GUARD_ARG } from "./src/executor/guard_process.ts";

if (import.meta.main) {
  if (Deno.args.length === 1 && Deno.args[0] === EXECUTOR_ARG) {
    const { runExecutorProcess } = await import("./src/executor/executor_process.ts");
    await runExecutorProcess();
    Deno.exit(0);
  }
  if (Deno.args.length === 2 && Deno.args[0] === GUARD_ARG) {
    const { runGuardProcess } = await import("./src/executor/guard_process.ts");
    await runGuardProcess(Number(Deno.args[1]));
    Deno.exit(0);
  }
  const { main } = await import("./src/cli/main.ts");
  const { flushLogs } = await import("./src/log.ts");
  const code = await main(Deno.args, Deno.env.toObject());
  flushLogs();
  Deno.exit(code);
}
