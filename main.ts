/**
 * prunner's entry point: parses the command line and runs the command. Started with
 * `__task-executor` as its only argument, it runs as prunner's task executor process instead
 * (see `src/executor/executor_process.ts`); the modules each role needs are loaded on demand,
 * so that process stays small.
 *
 * @module
 */
import { EXECUTOR_ARG } from "./src/executor/protocol.ts";

if (import.meta.main) {
  if (Deno.args.length === 1 && Deno.args[0] === EXECUTOR_ARG) {
    const { runExecutorProcess } = await import("./src/executor/executor_process.ts");
    await runExecutorProcess();
    Deno.exit(0);
  }
  const { main } = await import("./src/cli/main.ts");
  const { flushLogs } = await import("./src/log.ts");
  const code = await main(Deno.args, Deno.env.toObject());
  flushLogs();
  Deno.exit(code);
}
