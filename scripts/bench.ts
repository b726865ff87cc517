/**
 * prunner's benchmark: what the runner adds on top of the processes it runs, measured on one
 * machine in one run, side by side with the cost of spawning a process, GNU parallel, a bare
 * `Deno.serve` and (optionally) the Go prunner. Prints a Markdown table (case, metric, value,
 * target, result) and writes the results as JSON with `--json FILE`.
 *
 * ```sh
 * deno task bench                                  # the full run (several minutes)
 * deno task bench --quick                          # every case with tiny sizes, in seconds
 * deno task bench --json bench.json --compare-prunner /tmp/goprunner/prunner
 * deno task bench --only 2,7 --profile /tmp/prof   # CPU profiles of our servers
 * ```
 *
 * Servers, data directories and task logs live in temporary directories under `$TMPDIR`
 * (default `/tmp`): set it to choose the file system the runner writes to.
 *
 * Every server, process and temporary directory it starts is removed when it ends, also when a
 * case fails or the benchmark is interrupted (SIGINT, SIGTERM).
 *
 * @module
 */
import { type CaseOptions, runCases } from "./bench/cases.ts";
import { formatNotes, formatTable } from "./bench/report.ts";
import { FULL, QUICK } from "./bench/sizes.ts";
import { cleanupAll, describeMachine } from "./bench/system.ts";

const USAGE = `usage: deno task bench [--quick] [--json FILE] [--compare-prunner PATH] [--only LIST]
                        [--profile DIR] [--load wrk|fetch]

  --quick                 every case with tiny sizes (seconds instead of minutes)
  --json FILE             also write the results as JSON to FILE
  --compare-prunner PATH  run cases 2, 4 and 5 against this prunner binary too (case 8)
  --only LIST             run only these cases (comma-separated numbers)
  --profile DIR           our servers write V8 CPU profiles (--cpu-prof) into DIR
  --load wrk|fetch        case 7's load generator (default: wrk when installed, else fetch)`;

/** The command line of the benchmark. */
export interface BenchOptions extends CaseOptions {
  quick: boolean;
  json: string | null;
}

/**
 * Parses the benchmark's arguments.
 *
 * @throws {Error} with a message naming the bad argument.
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    json: null,
    comparePrunner: null,
    only: null,
    profile: null,
    load: null,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined || next === "") throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--quick") options.quick = true;
    else if (arg === "--json") options.json = value();
    else if (arg === "--compare-prunner") options.comparePrunner = value();
    else if (arg === "--profile") options.profile = value();
    else if (arg === "--load") {
      const tool = value();
      if (tool !== "wrk" && tool !== "fetch") throw new Error(`--load takes wrk or fetch`);
      options.load = tool;
    } else if (arg === "--only") {
      const list = value().split(",").map(Number);
      if (list.some((id) => !Number.isInteger(id) || id < 1 || id > 10)) {
        throw new Error(`--only takes case numbers 1 to 10, separated by commas`);
      }
      options.only = new Set(list);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  return options;
}

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

/** Runs the benchmark; resolves with the exit code (1 when a case failed). */
export async function bench(args: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(args);
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const sizes = options.quick ? QUICK : FULL;
  const machine = await describeMachine();
  log(
    `${machine.cpu}, ${machine.nproc} CPUs, ${machine.memoryGiB} GiB, ${machine.os}, ` +
      `Deno ${machine.deno}${options.quick ? " (quick)" : ""}`,
  );
  const startedAt = new Date().toISOString();
  const results = await runCases(options, sizes, log);

  console.log(formatTable(results));
  const notes = formatNotes(results);
  if (notes !== "") console.log(`\n${notes}`);
  if (options.json !== null) {
    const report = { startedAt, quick: options.quick, sizes, machine, results };
    await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2) + "\n");
  }
  return results.some((result) => result.status === "failed") ? 1 : 0;
}

if (import.meta.main) {
  const interrupted = async () => {
    log("interrupted: stopping servers and removing temporary directories");
    await cleanupAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  let code = 1;
  try {
    code = await bench(Deno.args);
  } finally {
    await cleanupAll();
  }
  Deno.exit(code);
}
