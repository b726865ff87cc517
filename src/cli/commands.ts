/**
 * prunner's commands: their arguments, options and help texts. The parser and the help text are
 * both built from this table.
 *
 * @module
 */

/** The name of a command. */
export type CommandName =
  | "schedule"
  | "pipelines"
  | "jobs"
  | "job"
  | "logs"
  | "cancel"
  | "cluster"
  | "debug"
  | "version"
  | "help";

/** An option of one command. */
export interface CommandOptionSpec {
  /** Long flag name without dashes. */
  readonly name: string;
  /** The placeholder of its value in the help (`KEY=VALUE`); none for a boolean flag. */
  readonly value?: string;
  /** May be given several times; the values are collected in order. */
  readonly repeatable?: boolean;
  /** The environment variable used when the flag is not given. */
  readonly env?: string;
  readonly usage: string;
}

/** A positional argument of a command. */
export interface ArgumentSpec {
  /** The placeholder in the help, e.g. `PIPELINE`. */
  readonly name: string;
  readonly optional?: boolean;
}

/** A command of the prunner CLI. */
export interface CommandSpec {
  readonly name: CommandName;
  readonly aliases: readonly string[];
  readonly arguments: readonly ArgumentSpec[];
  /** One line for the list of commands. */
  readonly summary: string;
  /** Paragraph lines for the command's own help. */
  readonly description: readonly string[];
  readonly options: readonly CommandOptionSpec[];
  /** Talks to a running prunner (and takes `--server`). */
  readonly client: boolean;
}

/** `--server`, taken by every client command. */
export const SERVER_OPTION: CommandOptionSpec = {
  name: "server",
  value: "URL",
  env: "PRUNNER_SERVER",
  usage: "URL of the prunner to talk to (default: the --address prunner listens on)",
};

const JSON_OPTION: CommandOptionSpec = {
  name: "json",
  usage: "Print JSON instead of a table, for scripts",
};

/** The exit statuses of `prunner schedule --wait`. */
export const EXIT = {
  /** The job succeeded (or, without --wait, was scheduled). */
  succeeded: 0,
  /** The job failed, or the command itself failed. */
  failed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The job was canceled. */
  canceled: 3,
} as const;

/** The commands, in the order of the help text. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "schedule",
    aliases: [],
    arguments: [{ name: "PIPELINE" }],
    summary: "Start a job of a pipeline and print its id",
    description: [
      "Asks the server to start a job of PIPELINE and prints the new job's id.",
      "Variables are strings unless the value reads as JSON: --var n=3 passes a number,",
      '--var \'list=["a","b"]\' a list. --vars reads a JSON object from a file (- for stdin);',
      "--var values win over it. With --wait the command returns when the job has ended and its",
      "exit status tells how: 0 succeeded, 1 failed, 3 canceled (2 is a wrong command line).",
      "--follow waits too and prints every task's output as it is written, each line led by the",
      "task's name, then one line with the outcome. The request carries an idempotency key (a",
      "new random one unless --idempotency-key names one): when the server cannot be reached or",
      "its answer is lost, it is sent again, and the server schedules it once. Pass your own key",
      "(a CI run id, say) to make a repeated command get the job of the first one.",
    ],
    options: [
      { name: "var", value: "KEY=VALUE", repeatable: true, usage: "Set a job variable" },
      { name: "vars", value: "FILE", usage: "Read job variables from a JSON file, - for stdin" },
      {
        name: "partition",
        value: "NAME",
        usage: "Wait-list partition, for pipelines with queue_strategy partitioned_replace",
      },
      {
        name: "idempotency-key",
        value: "KEY",
        usage: "Key that makes repeated requests get one job (default: a random one)",
      },
      { name: "wait", usage: "Return when the job has ended; the exit status says how" },
      { name: "follow", usage: "Wait, printing the output of the tasks as it is written" },
      { ...JSON_OPTION, usage: "Print the job id, or the ended job with --wait, as JSON" },
      SERVER_OPTION,
    ],
    client: true,
  },
  {
    name: "pipelines",
    aliases: [],
    arguments: [],
    summary: "List the pipelines and their jobs in progress",
    description: [
      "Lists every pipeline the server has loaded: whether a new job would be accepted now,",
      "and how many of its jobs are running and waiting.",
    ],
    options: [JSON_OPTION, SERVER_OPTION],
    client: true,
  },
  {
    name: "jobs",
    aliases: [],
    arguments: [],
    summary: "List the latest jobs",
    description: [
      "Lists jobs, newest first: their id, pipeline, state, when they were scheduled, how long",
      "they ran and who scheduled them.",
    ],
    options: [
      { name: "pipeline", value: "NAME", usage: "Only the jobs of this pipeline" },
      { name: "limit", value: "N", usage: "Show at most N jobs (default: 20)" },
      JSON_OPTION,
      SERVER_OPTION,
    ],
    client: true,
  },
  {
    name: "job",
    aliases: [],
    arguments: [{ name: "ID" }],
    summary: "Show a job and its tasks",
    description: [
      "Shows a job: its pipeline, state, times, user and variables, and each task's state,",
      "exit code and error.",
    ],
    options: [JSON_OPTION, SERVER_OPTION],
    client: true,
  },
  {
    name: "logs",
    aliases: [],
    arguments: [{ name: "ID" }, { name: "TASK", optional: true }],
    summary: "Print the output of a job's tasks",
    description: [
      "Prints what the tasks of job ID wrote, standard output to standard output and standard",
      "error to standard error. With TASK only that task's output, as it is; without, every",
      "task's, each line led by the task's name. --follow keeps printing new output until the",
      "job has ended.",
    ],
    options: [
      { name: "follow", usage: "Keep printing output as it is written until the job ends" },
      { ...JSON_OPTION, usage: "Print the output as JSON (not with --follow)" },
      SERVER_OPTION,
    ],
    client: true,
  },
  {
    name: "cancel",
    aliases: [],
    arguments: [{ name: "ID" }],
    summary: "Cancel a waiting or running job",
    description: [
      "Cancels job ID: a waiting job never starts, a running job's tasks are stopped with",
      "everything they started. Returns without waiting for the tasks to stop.",
    ],
    options: [SERVER_OPTION],
    client: true,
  },
  {
    name: "cluster",
    aliases: [],
    arguments: [],
    summary: "List the nodes of the server's cluster",
    description: [
      "Lists the nodes of the cluster the server is a node of (prunners started with the same",
      "--database-url): each node's name and address, how long ago its last heartbeat was,",
      "whether it is alive or silent (silent for longer than the heartbeat timeout: its jobs",
      "are canceled) and how many jobs it runs. The node that answered is marked. A prunner",
      "without --database-url answers that cluster mode is off.",
    ],
    options: [JSON_OPTION, SERVER_OPTION],
    client: true,
  },
  {
    name: "debug",
    aliases: [],
    arguments: [],
    summary: "Show where the JWT secret comes from and print a token for it",
    description: [
      "Tells where the JWT secret comes from and prints a token signed with it, with a curl",
      "command to try it and, unless --ui=false, a link that opens the web UI signed in. Like the",
      "server, it writes a new secret into the config file when none is set. With",
      'MINIMAL_OUTPUT=1 only "Bearer <token>" is printed, for scripts.',
    ],
    options: [],
    client: false,
  },
  {
    name: "version",
    aliases: [],
    arguments: [],
    summary: "Print the versions of prunner and Deno",
    description: ["Prints prunner's version and those of Deno, V8 and TypeScript it runs on."],
    options: [],
    client: false,
  },
  {
    name: "help",
    aliases: ["h"],
    arguments: [{ name: "COMMAND", optional: true }],
    summary: "Print this help, or the help of one command",
    description: ["Prints the list of commands and global options, or one command's help."],
    options: [],
    client: false,
  },
];

/**
 * The spec of a command by name or alias.
 *
 * @example
 * ```ts
 * findCommand("h")?.name; // "help"
 * ```
 */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases.includes(name));
}
