/**
 * The command line: parses it and runs the command.
 *
 * @module
 */
import { parseCli } from "./flags.ts";
import { debugInfo } from "./debug.ts";
import { versionText } from "./version.ts";
import { serve } from "../app.ts";
import { flushLogs, setupLogging } from "../log.ts";
import { errorMessage, PrunnerError } from "../errors.ts";
import { runClient } from "./client_commands.ts";

/** Runs prunner with the given arguments and environment; resolves with the exit code. */
export async function main(args: string[], env: Record<string, string>): Promise<number> {
  let command;
  try {
    command = parseCli(args, env);
  } catch (error) {
    console.error(`prunner: ${errorMessage(error)}`);
    return (error as { exitCode?: number }).exitCode ?? 2;
  }
  try {
    switch (command.kind) {
      case "help":
        console.log(command.text);
        return 0;
      case "version":
        console.log(versionText());
        return 0;
      case "debug":
        console.log(await debugInfo(command.options));
        return 0;
      case "serve":
        await setupLogging(command.options);
        return await serve(command.options);
      case "client":
        return await runClient(command, { env });
    }
  } catch (error) {
    // A reader that went away (`prunner jobs | head -1`) is no failure.
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    if (!(error instanceof PrunnerError)) throw error;
    flushLogs();
    console.error(`prunner: ${error.message}`);
    return (error as { exitCode?: number }).exitCode ?? 1;
  }
}
