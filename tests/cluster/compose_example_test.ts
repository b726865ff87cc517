/**
 * The cluster example, examples/cluster/docker-compose.yml, without Docker (which the machines
 * that run the tests lack). Its structure is checked against the Dockerfile, the README and its
 * own header comment; then its node services run as real prunner processes on a throwaway
 * PostgreSQL server, each with exactly its service's environment and the example's pipelines
 * file, through the scenario of the header comment: each `docker compose exec NODE prunner …` of
 * it runs as the client in that node's environment, `docker compose kill` is a SIGKILL, and the
 * HTTP API shows what came of each step.
 *
 * @module
 */
import { parse } from "yaml";
import { assert, assertEquals, assertMatch, assertThrows } from "../assert.ts";
import { postgresMissing, startPostgres } from "../postgres.ts";
import {
  DENO_RUN_MAIN,
  type PrunnerProcess,
  runCli,
  startPrunner,
  waitFor,
  workspace,
} from "../app/support.ts";
import { type ClusterJob, logs } from "./support.ts";

const ROOT = new URL("../../", import.meta.url);
const EXAMPLE = new URL("examples/cluster/", ROOT);

/** The parts of a compose service the example uses. */
interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, unknown>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }>;
}

/** The compose file, parsed, with its text (for the header comment, which YAML drops). */
interface Compose {
  text: string;
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

/** The environment variables every node service sets, sorted. */
const NODE_ENV = [
  "PRUNNER_DATABASE_URL",
  "PRUNNER_HEARTBEAT_TIMEOUT",
  "PRUNNER_JWT_SECRET",
  "PRUNNER_NODE_NAME",
];

async function readCompose(): Promise<Compose> {
  const text = await Deno.readTextFile(new URL("docker-compose.yml", EXAMPLE));
  const parsed = parse(text) as Partial<Compose>;
  assert(typeof parsed.services === "object" && parsed.services !== null, "no services");
  return { text, services: parsed.services, volumes: parsed.volumes ?? {} };
}

/** The services built from the repository (`build`): the prunner nodes, in the file's order. */
function nodeServices(compose: Compose): [string, Service][] {
  return Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
}

/** A node service's environment as written, every value a string. */
function environmentOf(name: string, service: Service): Record<string, string> {
  const env = service.environment;
  assert(typeof env === "object" && env !== null && !Array.isArray(env), `${name}: environment`);
  for (const [key, value] of Object.entries(env)) {
    assert(typeof value === "string", `${name}: ${key} is not a string: ${value}`);
  }
  return env as Record<string, string>;
}

/**
 * `value` with compose's `${NAME:?message}` replaced from `vars`; throws `message` where `NAME`
 * is unset or empty, as `docker compose up` refuses to start. Any other `$` is refused, since
 * this covers only what the example uses.
 */
function interpolate(value: string, vars: Record<string, string>): string {
  const result = value.replace(/\$\{(\w+):\?([^}]*)\}/g, (_, name: string, message: string) => {
    const found = vars[name];
    if (!found) throw new Error(`${name}: ${message}`);
    return found;
  });
  assert(!result.includes("$"), `an interpolation this test does not cover in ${value}`);
  return result;
}

/** The `ENV` settings of the Dockerfile the nodes are built from. */
async function imageEnv(): Promise<Record<string, string>> {
  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
  // ENV NAME=value [NAME=value…], continued over lines ending in a backslash.
  const instructions = [...dockerfile.matchAll(/^ENV\s+((?:.*\\\n)*.*)$/gm)].map((m) => m[1]);
  return Object.fromEntries(
    instructions.flatMap((text) => [...text.matchAll(/(\w+)=(\S+)/g)].map(([, k, v]) => [k, v])),
  );
}

/** The header comment's commands, as `exec NODE prunner ARGS` and `kill NODE`. */
function headerSteps(text: string): string[] {
  const header = text.split("\n").filter((line) => line.startsWith("#"));
  return header.flatMap((line) => {
    const match = line.match(/docker compose (exec \S+ prunner .*?|kill \S+)\s*(#|$)/);
    return match ? [match[1]] : [];
  });
}

Deno.test("cluster example: docker-compose.yml has postgres and nodes that make one cluster", async () => {
  const compose = await readCompose();
  const image = await imageEnv();

  const postgres = compose.services.postgres;
  assert(postgres !== undefined, "a postgres service");
  assertMatch(postgres.image ?? "", /^postgres:\d+$/);
  const pg = postgres.environment as Record<string, string>;

  const nodes = nodeServices(compose);
  assertEquals(nodes.map(([name]) => name), ["node-1", "node-2"]);
  const envs = nodes.map(([name, service]) => environmentOf(name, service));
  for (const [i, env] of envs.entries()) {
    assertEquals(Object.keys(env).sort(), NODE_ENV, `${nodes[i][0]}: its variables`);
  }

  const names = envs.map((env) => env.PRUNNER_NODE_NAME);
  assertEquals(new Set(names).size, nodes.length, `node names must differ: ${names}`);
  for (const key of ["PRUNNER_DATABASE_URL", "PRUNNER_JWT_SECRET", "PRUNNER_HEARTBEAT_TIMEOUT"]) {
    const values = envs.map((env) => env[key]);
    assertEquals(new Set(values).size, 1, `${key} must be the same on every node: ${values}`);
  }
  const [env] = envs;

  // One database, on the postgres service, with the credentials it is created with.
  const database = new URL(env.PRUNNER_DATABASE_URL);
  assertEquals(
    [database.protocol, database.hostname, database.port, database.username, database.password],
    ["postgres:", "postgres", "5432", pg.POSTGRES_USER, pg.POSTGRES_PASSWORD],
  );
  assertEquals(database.pathname, `/${pg.POSTGRES_DB}`);

  // The secret comes from the shell that runs compose, which must set it.
  assertMatch(env.PRUNNER_JWT_SECRET, /^\$\{PRUNNER_JWT_SECRET:\?[^}]+\}$/);
  assertThrows(() => interpolate(env.PRUNNER_JWT_SECRET, {}), Error, "set PRUNNER_JWT_SECRET");
  assertEquals(interpolate(env.PRUNNER_JWT_SECRET, { PRUNNER_JWT_SECRET: "s" }), "s");

  // The heartbeat timeout is the default the README gives, as the header comment says.
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const readmeDefault = readme.match(/`\$PRUNNER_HEARTBEAT_TIMEOUT`, default `([^`]+)`/);
  assertEquals(env.PRUNNER_HEARTBEAT_TIMEOUT, readmeDefault?.[1]);
  assertEquals(env.PRUNNER_HEARTBEAT_TIMEOUT, "15s");
  const headerTimeout = compose.text.match(/heartbeat timeout \((\d+) s\)/);
  assertEquals(`${headerTimeout?.[1]}s`, env.PRUNNER_HEARTBEAT_TIMEOUT, "the header's timeout");

  // Built from the repository's Dockerfile, whose settings the volumes and ports must fit.
  const dataDir = "/var/lib/prunner";
  assert(image.PRUNNER_DATA.startsWith(`${dataDir}/`), `PRUNNER_DATA ${image.PRUNNER_DATA}`);
  assert(image.PRUNNER_CONFIG.startsWith(`${dataDir}/`), `PRUNNER_CONFIG ${image.PRUNNER_CONFIG}`);
  assertEquals(
    Object.keys(image).sort(),
    ["PRUNNER_ADDRESS", "PRUNNER_CONFIG", "PRUNNER_DATA", "PRUNNER_PATH"],
    "the image's settings, which the next test gives each node and its client",
  );
  const containerPort = image.PRUNNER_ADDRESS.slice(image.PRUNNER_ADDRESS.lastIndexOf(":") + 1);
  const dataVolumes: string[] = [];
  const hostPorts: string[] = [];
  for (const [name, service] of nodes) {
    assertEquals(new URL(`${service.build}/`, EXAMPLE).href, ROOT.href, `${name}: build`);
    assertEquals(service.depends_on, { postgres: { condition: "service_healthy" } });

    // A data volume of its own (the lock and the spool), and the pipelines read-only.
    const volumes = service.volumes ?? [];
    const data = volumes.filter((volume) => volume.endsWith(`:${dataDir}`));
    assertEquals(data.length, 1, `${name}: one volume at ${dataDir}: ${volumes}`);
    const volume = data[0].slice(0, -`:${dataDir}`.length);
    assert(volume in compose.volumes, `${name}: ${volume} is a named volume`);
    dataVolumes.push(volume);
    const pipelines = `./pipelines.cluster.yml:${image.PRUNNER_PATH}/pipelines.yml:ro`;
    assert(volumes.includes(pipelines), `${name}: mounts ${pipelines}: ${volumes}`);
    assert((await Deno.stat(new URL("pipelines.cluster.yml", EXAMPLE))).isFile);

    const ports = service.ports ?? [];
    assertEquals(ports.length, 1, `${name}: one port: ${ports}`);
    const [host, container] = ports[0].split(":");
    assertEquals(container, containerPort, `${name}: the port prunner listens on in the image`);
    hostPorts.push(host);
  }
  assertEquals(new Set(dataVolumes).size, nodes.length, `data volumes must differ: ${dataVolumes}`);
  assertEquals(new Set(hostPorts).size, nodes.length, `host ports must differ: ${hostPorts}`);

  // The scenario the next test runs is the header comment's.
  assertEquals(headerSteps(compose.text), [
    "exec node-1 prunner cluster",
    "exec node-1 prunner schedule import",
    "exec node-2 prunner schedule import",
    "exec node-2 prunner jobs",
    "kill node-1",
  ]);
});

if (postgresMissing !== null) console.warn(`cluster example run skipped: ${postgresMissing}`);

/** A running node service: its process and the environment of a client in its container. */
interface Node {
  process: PrunnerProcess;
  clientEnv: Record<string, string>;
  cwd: string;
}

/** The columns of the rows of a table the CLI printed, below its header. */
function rows(stdout: string): string[][] {
  return stdout.trimEnd().split("\n").slice(1).map((line) => line.split(/\s{2,}/));
}

Deno.test({
  name: "cluster example: its nodes run as processes with the file's environment, and the " +
    "header's scenario holds",
  ignore: postgresMissing !== null,
  async fn() {
    const compose = await readCompose();
    const pipelines = await Deno.readTextFile(new URL("pipelines.cluster.yml", EXAMPLE));
    // What `PRUNNER_JWT_SECRET=$(openssl rand -hex 32) docker compose up` gives it.
    const secret = Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((byte) => byte.toString(16).padStart(2, "0")).join("");
    await using postgres = await startPostgres();
    const database = await postgres.database();
    await using stack = new AsyncDisposableStack();

    const nodes = new Map<string, Node>();
    try {
      for (const [name, service] of nodeServices(compose)) {
        const env = Object.fromEntries(
          Object.entries(environmentOf(name, service))
            .map(([key, value]) => [key, interpolate(value, { PRUNNER_JWT_SECRET: secret })]),
        );
        const rewrite = (key: string, value: string) => {
          assert(key in env, `${name} has no ${key} to set`);
          env[key] = value;
        };
        rewrite("PRUNNER_DATABASE_URL", database);
        // The file's 15s would make the node's death take 15 s and more to notice; 3s is the
        // shortest prunner takes. The first test checks the file's value.
        rewrite("PRUNNER_HEARTBEAT_TIMEOUT", "3s");
        // The volumes: a workspace of its own (data and config), the pipelines file read-only.
        const ws = stack.use(await workspace(pipelines));
        await Deno.chmod(`${ws.pipelines}/pipelines.yml`, 0o444);
        // The image's settings of --path, --data, --config and --address are startPrunner's flags.
        const process = stack.use(await startPrunner(ws, [], DENO_RUN_MAIN, env));
        const address = new URL(process.url).host;
        const clientEnv = {
          ...env,
          PRUNNER_PATH: ws.pipelines,
          PRUNNER_DATA: ws.data,
          PRUNNER_CONFIG: `${ws.root}/.prunner.yml`,
          PRUNNER_ADDRESS: address,
        };
        nodes.set(name, { process, clientEnv, cwd: ws.pipelines });
      }
      const node = (name: string) => {
        const found = nodes.get(name);
        assert(found !== undefined, `no node service ${name}`);
        return found;
      };
      /** `docker compose exec NAME prunner ARGS…`. */
      const exec = async (name: string, ...args: string[]) => {
        const { clientEnv, cwd } = node(name);
        const result = await runCli(args, clientEnv, { cwd });
        assertEquals(result.code, 0, `prunner ${args.join(" ")} on ${name}: ${result.stderr}`);
        return result.stdout;
      };
      const one = node("node-1").process;
      const two = node("node-2").process;
      const job = (on: PrunnerProcess, id: string) =>
        on.json<ClusterJob>("GET", `/job/detail?id=${id}`);

      // exec node-1 prunner cluster: both nodes, alive (asked again should a heartbeat lag).
      const table = await waitFor("node-1's `prunner cluster` to show both alive", async () => {
        const found = rows(await exec("node-1", "cluster"));
        return found.length === 2 && found.every((row) => row[3] === "alive") ? found : null;
      });
      assertEquals(table.map(([name, address, , state, jobs]) => [name, address, state, jobs]), [
        ["node-1 (answering)", one.url, "alive", "0"],
        ["node-2", two.url, "alive", "0"],
      ]);
      const cluster = await one.json<{ node: string; nodes: { name: string; alive: boolean }[] }>(
        "GET",
        "/cluster",
      );
      assertEquals(cluster.node, "node-1");
      assertEquals(cluster.nodes.map(({ name, alive }) => [name, alive]), [
        ["node-1", true],
        ["node-2", true],
      ]);

      // exec node-1 prunner schedule import: starts at once, on node-1.
      const first = (await exec("node-1", "schedule", "import")).trim();
      const started = await waitFor("the first import to start", async () => {
        const found = await job(one, first);
        return found.start !== undefined ? found : null;
      });
      assertEquals([started.node, started.completed], ["node-1", false]);

      // exec node-2 prunner schedule import: waits, since one import runs in the cluster.
      const second = (await exec("node-2", "schedule", "import")).trim();
      const waiting = await job(two, second);
      assertEquals([waiting.start, waiting.node, waiting.completed], [undefined, undefined, false]);
      const running = await job(two, first);
      assertEquals([running.node, running.completed], ["node-1", false], "still running");

      // exec node-2 prunner jobs: node-2 lists both.
      const listed = rows(await exec("node-2", "jobs"))
        .filter(([id]) => id === first || id === second)
        .map(([id, pipeline, state]) => [id, pipeline, state]);
      assertEquals(
        listed.sort(),
        [[first, "import", "running"], [second, "import", "waiting"]].sort(),
      );

      // kill node-1: after the heartbeat timeout node-2 cancels node-1's job, naming node-1, and
      // starts the waiting one.
      assertEquals((await job(two, first)).completed, false, "the first import runs at the kill");
      await one.stop("SIGKILL");
      const canceled = await waitFor("node-2 to end node-1's job", async () => {
        const found = await job(two, first);
        return found.completed ? found : null;
      }, 60_000);
      assertEquals(canceled.canceled, true);
      assertMatch(canceled.lastError ?? "", /^canceled: node node-1 stopped answering/);
      const taken = await waitFor("the waiting import to start", async () => {
        const found = await job(two, second);
        return found.start !== undefined ? found : null;
      }, 60_000);
      assertEquals(taken.node, "node-2");
      const done = await waitFor("the second import to complete", async () => {
        const found = await job(two, second);
        return found.completed ? found : null;
      }, 60_000);
      assertEquals([done.canceled, done.errored], [false, false]);
      assertEquals(done.tasks.map(({ name, status }) => [name, status]), [
        ["fetch", "done"],
        ["load", "done"],
      ]);
      assertMatch((await logs(two, second, "fetch")).stdout, /^fetching on \S+\n$/);
      assertMatch((await logs(two, second, "load")).stdout, /^loading on \S+\n$/);
      const after = await two.json<{ nodes: { name: string }[] }>("GET", "/cluster");
      assertEquals(after.nodes.map(({ name }) => name), ["node-2"], "node-1 left the cluster");
    } catch (error) {
      for (const [name, { process }] of nodes) console.error(`--- ${name}:\n${process.stderr()}`);
      throw error;
    }
  },
});
