/**
 * Throwaway PostgreSQL servers for tests: `initdb` into a temporary directory, `pg_ctl start` on
 * a free port of 127.0.0.1 (with its unix socket in the same directory), stopped and removed on
 * dispose. As root, the server runs as the `postgres` user, since PostgreSQL refuses to run as
 * root. Without PostgreSQL's programs (Debian: `postgresql`, in `/usr/lib/postgresql/<n>/bin`, or
 * `$PG_BIN`), {@linkcode postgresMissing} says why and the tests that need a server are skipped.
 *
 * @module
 */

/** The directory of `initdb` and `pg_ctl`, or `null` when none is installed. */
export const postgresBin: string | null = findBin();

/** Why PostgreSQL tests are skipped, or `null` when they can run. */
export const postgresMissing: string | null = postgresBin === null
  ? "PostgreSQL is not installed (no initdb and pg_ctl in $PG_BIN or /usr/lib/postgresql/*/bin; " +
    "Debian: apt-get install postgresql)"
  : null;

/** A running throwaway server. */
export interface TestPostgres extends AsyncDisposable {
  /** URL of its `postgres` database, as the superuser `prunner` (no password). */
  readonly url: string;
  /** Creates an empty database and returns its URL. */
  database(): Promise<string>;
  /** The process id of the running server's postmaster (the parent of its backends). */
  pid(): Promise<number>;
  /** Stops the server at once (as a crash would), keeping its data. */
  stop(): Promise<void>;
  /** Starts the stopped server again, on the same port. */
  start(): Promise<void>;
  /** Stops the server at once and removes its directory. */
  dispose(): Promise<void>;
}

const USER = "prunner";
let databases = 0;

/**
 * Starts a throwaway server.
 *
 * @throws {Error} when PostgreSQL is missing (see {@linkcode postgresMissing}) or does not start,
 * with its log.
 * @example
 * ```ts
 * await using pg = await startPostgres();
 * const sql = postgres(await pg.database());
 * ```
 */
export async function startPostgres(): Promise<TestPostgres> {
  if (postgresBin === null) throw new Error(postgresMissing!);
  const bin = postgresBin;
  const dir = await Deno.makeTempDir({ prefix: "prunner-pg-" });
  const data = `${dir}/data`;
  const asRoot = Deno.uid() === 0;
  const run = async (program: string, args: string[]) => {
    const command = asRoot
      ? new Deno.Command("runuser", {
        args: ["-u", "postgres", "--", `${bin}/${program}`, ...args],
      })
      : new Deno.Command(`${bin}/${program}`, { args });
    const { success, stdout, stderr } = await command.output();
    const decoder = new TextDecoder();
    return { success, output: decoder.decode(stdout) + decoder.decode(stderr) };
  };
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    if (asRoot) {
      const [uid, gid] = await Promise.all([idOf("-u"), idOf("-g")]);
      await Deno.chown(dir, uid, gid);
    }
    const init = await run("initdb", [
      "-D",
      data,
      "-U",
      USER,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    if (!init.success) throw new Error(`initdb failed:\n${init.output}`);
    let last = "";
    // The free port may be taken between asking for it and the server's start: try again.
    for (let tries = 0; tries < 3; tries++) {
      const port = freePort();
      last = await startOn(port);
      if (last === "") return server(port);
    }
    throw new Error(`pg_ctl start failed:\n${last}`);
  } catch (error) {
    await remove();
    throw error;
  }

  /** Starts the server on `port`; resolves with its output when it fails, else with "". */
  async function startOn(port: number): Promise<string> {
    // Not synced to disk (fsync), yet every commit is in the OS before it returns, so that a
    // server stopped at once (`stop`) keeps it.
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off ` +
      `-c full_page_writes=off`;
    const log = `${dir}/server.log`;
    const start = await run("pg_ctl", ["-D", data, "-l", log, "-o", options, "-w", "start"]);
    if (start.success) return "";
    return `${start.output}\n${await Deno.readTextFile(log).catch(() => "")}`;
  }

  function server(port: number): TestPostgres {
    const url = `postgres://${USER}@127.0.0.1:${port}/postgres`;
    let disposed: Promise<void> | null = null;
    const dispose = () =>
      disposed ??= run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).then(remove);
    return {
      url,
      async database() {
        const name = `test_${Deno.pid}_${++databases}`;
        const created = await run("psql", [
          "-h",
          dir,
          "-p",
          String(port),
          "-U",
          USER,
          "-d",
          "postgres",
          "-v",
          "ON_ERROR_STOP=1",
          "-c",
          `CREATE DATABASE ${name}`,
        ]);
        if (!created.success) throw new Error(`cannot create database ${name}:\n${created.output}`);
        return `postgres://${USER}@127.0.0.1:${port}/${name}`;
      },
      async pid() {
        const lines = await Deno.readTextFile(`${data}/postmaster.pid`);
        return Number(lines.split("\n")[0]);
      },
      async stop() {
        const stopped = await run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
        if (!stopped.success) throw new Error(`pg_ctl stop failed:\n${stopped.output}`);
      },
      async start() {
        const failed = await startOn(port);
        if (failed !== "") throw new Error(`pg_ctl start failed:\n${failed}`);
      },
      dispose,
      [Symbol.asyncDispose]: dispose,
    };
  }
}

function findBin(): string | null {
  const candidates: string[] = [];
  const fromEnv = Deno.env.get("PG_BIN");
  if (fromEnv) candidates.push(fromEnv);
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => entry.name)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => `/usr/lib/postgresql/${version}/bin`));
  } catch {
    // No Debian PostgreSQL.
  }
  return candidates.find((dir) => exists(`${dir}/initdb`) && exists(`${dir}/pg_ctl`)) ?? null;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function idOf(flag: "-u" | "-g"): Promise<number> {
  const { success, stdout } = await new Deno.Command("id", { args: [flag, "postgres"] }).output();
  if (!success) throw new Error("running as root needs a postgres user to run PostgreSQL as");
  return Number(new TextDecoder().decode(stdout).trim());
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
