/**
 * Faults of a cluster, end to end: real prunner nodes on one real PostgreSQL database, driven
 * over HTTP. A node killed mid-job, a node killed while schedules pour in, the database away for
 * 10 s (well within the fencing time: nothing is lost or stopped) and for longer than the
 * heartbeat timeout (the cut-off node stops its tasks rather than run on unrecorded). Tasks
 * mark their starts and ends in shared files, so that a job run twice shows.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  accepted,
  type Cluster,
  type ClusterJob,
  clusterTest,
  groupEnded,
  listed,
  pidFrom,
  postgresMissing,
  processAlive,
  type PrunnerProcess,
  readMarkers,
  schedule,
  type ScheduleAnswer,
  sharedDir,
  startCluster,
  statusOf,
  untilFile,
  waitFor,
} from "./support.ts";

if (postgresMissing !== null) console.warn(`cluster fault tests skipped: ${postgresMissing}`);

/** The shortest heartbeat timeout, which keeps the tests that wait for it short. */
const TIMEOUT_S = 3;
const FAST = ["--heartbeat-timeout", `${TIMEOUT_S}s`];

/**
 * `serial` runs one job at a time across the cluster: its task writes the pid of its shell
 * (which leads the task's process group) to `pidfile`, then waits for a background `sleep` of
 * `seconds`. `logged` does the same, one at a time too, and appends `start NAME` and
 * `end NAME` to the file `log` (also when it is interrupted). `hold` runs two at a time; its
 * task writes its pid and runs until the file `release` exists (60 s at most). `many` runs
 * four at a time, for a short while each, and appends `start ID` and `end ID` to the file
 * `markers`.
 */
const PIPELINES = `
pipelines:
  serial:
    concurrency: 1
    tasks:
      work:
        script:
          - sleep {{ .seconds }} & echo $$ > {{ .pidfile }}; wait
  logged:
    concurrency: 1
    tasks:
      work:
        script:
          - >-
            echo "start {{ .name }}" >> {{ .log }};
            trap 'echo "end {{ .name }}" >> {{ .log }}; exit 130' INT TERM;
            sleep {{ .seconds }} & echo $$ > {{ .pidfile }}; wait;
            echo "end {{ .name }}" >> {{ .log }}
  hold:
    concurrency: 2
    tasks:
      work:
        script:
          - echo $$ > {{ .pidfile }}; ${untilFile("{{ .release }}")}
  many:
    concurrency: 4
    tasks:
      work:
        script:
          - echo "start {{ .id }}" >> {{ .markers }}; sleep 0.05; echo "end {{ .id }}" >> {{ .markers }}
`;

clusterTest(
  "cluster faults: a node SIGKILLed mid-job is taken for dead, its job ends canceled naming " +
    "it, its task is gone and the jobs waiting behind it run on another node",
  async () => {
    await using cluster = await startCluster(PIPELINES, 2, FAST);
    await using dir = await sharedDir();
    const [a] = cluster.nodes;
    const pidfile = `${dir.path}/running.pid`;
    const running = await accepted(a, "serial", { pidfile, seconds: 300 });
    const pgid = await pidFrom(pidfile);
    assertEquals((await cluster.job(running, 0)).node, "a");
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) {
      waiting.push(
        await accepted(a, "serial", { pidfile: `${dir.path}/waiting${i}.pid`, seconds: 0 }),
      );
    }
    for (const id of waiting) assertEquals((await cluster.job(id, 0)).start, undefined, "it waits");

    await cluster.kill("a");
    const ended = await cluster.completed(running, 1, 4 * TIMEOUT_S * 1000);
    assertEquals([ended.canceled, ended.node], [true, "a"]);
    assertMatch(ended.lastError ?? "", /node a\b/);
    assertEquals(ended.tasks[0].status, "canceled");
    await waitFor("the killed node's task processes to be gone", () => groupEnded(pgid));

    for (const id of waiting) {
      const job = await cluster.completed(id);
      assertEquals([job.errored, job.canceled, job.node], [false, false, "b"], cluster.stderr());
    }
  },
);

/**
 * Schedules `count` jobs of `many` with `parallel` requests in flight, round-robin over the
 * nodes of `cluster` (killed ones too); the tasks mark their start and end in `markers`.
 */
async function scheduleMany(
  cluster: Cluster,
  markers: string,
  count: number,
  parallel: number,
  before: (index: number) => Promise<void> = async () => {},
): Promise<{ acknowledged: Map<string, string>; refused: number }> {
  /** Job ids by the `id` their tasks mark. */
  const acknowledged = new Map<string, string>();
  let refused = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await before(index);
      try {
        const answer = await schedule(cluster.nodes[index % cluster.nodes.length], {
          pipeline: "many",
          variables: { markers, id: `schedule-${index}` },
        });
        if (answer.status === 202) acknowledged.set(`schedule-${index}`, answer.jobId!);
        else refused++;
      } catch {
        // The node is gone: no answer, so nothing was acknowledged.
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { acknowledged, refused };
}

/** Every job that `node` lists, by id. */
async function listedById(node: PrunnerProcess): Promise<Map<string, ClusterJob>> {
  return new Map((await listed(node)).map((job) => [job.id, job]));
}

/** How often each line occurs in the shared file at `path`. */
async function lineCounts(path: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of await readMarkers(path)) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}

/** Asserts that no task marked in `counts` started or ended twice. */
function assertNoneTwice(counts: Map<string, number>): void {
  const twice = [...counts].filter(([, count]) => count > 1).map(([line]) => line);
  assertEquals(twice, [], "no job ran twice");
}

clusterTest(
  "cluster faults: of 200 schedules spread over 3 nodes, one of them SIGKILLed half-way, " +
    "every acknowledged job ends exactly once on the survivors and none runs twice",
  async () => {
    await using cluster = await startCluster(PIPELINES, 3, FAST);
    await using dir = await sharedDir();
    const markers = `${dir.path}/markers`;
    let killing: Promise<void> | null = null;
    const { acknowledged, refused } = await scheduleMany(cluster, markers, 200, 6, (i) => {
      if (i === 100) killing = cluster.kill("c");
      return Promise.resolve();
    });
    await killing;
    assert(acknowledged.size >= 100, `${acknowledged.size} acknowledged, ${refused} not`);

    for (const node of cluster.live()) {
      const jobs = await waitFor(
        `every acknowledged job to end, as node ${node.url} lists`,
        async () => {
          const jobs = await listedById(node);
          return [...acknowledged.values()].every((id) => jobs.get(id)?.completed) ? jobs : null;
        },
        60_000,
      );
      for (const [marker, id] of acknowledged) {
        const job = jobs.get(id)!;
        if (job.canceled) {
          assertEquals(job.node, "c", `only jobs of the dead node are canceled: ${job.lastError}`);
          assertMatch(job.lastError ?? "", /node c\b/);
        } else {
          assertEquals(job.errored, false, JSON.stringify(job));
          const counts = await lineCounts(markers);
          assertEquals(
            [counts.get(`start ${marker}`), counts.get(`end ${marker}`)],
            [1, 1],
            `job ${id} (${marker}) ran once, to its end`,
          );
        }
      }
    }
    assertNoneTwice(await lineCounts(markers));
  },
);

/** Schedules made by {@linkcode scheduleOn}, which name the markers of their tasks. */
let scheduled = 0;

/** The answer to a schedule of `many` on `node`, marking in `markers`. */
function scheduleOn(node: PrunnerProcess, markers: string): Promise<ScheduleAnswer> {
  return schedule(node, { pipeline: "many", variables: { markers, id: `load-${scheduled++}` } });
}

/**
 * Schedules `many` on every node of `cluster`, one request after the other per node, until
 * `stop` is called; keeps the acknowledged jobs and every answer that was not a 202.
 */
function keepScheduling(nodes: readonly PrunnerProcess[], markers: string) {
  const acknowledged: string[] = [];
  const refusals: ScheduleAnswer[] = [];
  let running = true;
  const loops = nodes.map(async (node) => {
    while (running) {
      const answer = await scheduleOn(node, markers).catch((error): ScheduleAnswer => ({
        status: 0,
        error: `no answer: ${error}`,
        replayed: false,
      }));
      if (answer.status === 202) acknowledged.push(answer.jobId!);
      else refusals.push(answer);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  return {
    acknowledged,
    refusals,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The database in the error messages of nodes on `url`: its URL without a password. */
const databaseOf = (url: string) => url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

clusterTest(
  "cluster faults: with the database away for 10 s, nodes answer 503 and keep their tasks " +
    "running; once it is back they carry on and nothing acknowledged is lost",
  async () => {
    // Fencing starts at the timeout less two heartbeats: 27 s leaves the 10 s outage, the
    // database's restart and the reconnect far from it.
    const timeout = ["--heartbeat-timeout", "30s"];
    await using cluster = await startCluster(PIPELINES, 2, timeout);
    await using dir = await sharedDir();
    const { nodes } = cluster;
    const markers = `${dir.path}/markers`;
    const release = `${dir.path}/release`;
    const held = await Promise.all(nodes.map(async (node, i) => {
      const pidfile = `${dir.path}/hold${i}.pid`;
      const id = await accepted(node, "hold", { pidfile, release });
      return { id, pid: await pidFrom(pidfile) };
    }));
    // Two more wait behind them.
    for (const node of nodes) {
      held.push({
        id: await accepted(node, "hold", { pidfile: `${dir.path}/later`, release }),
        pid: 0,
      });
    }
    const load = keepScheduling(nodes, markers);
    await waitFor("some jobs to be acknowledged", () => load.acknowledged.length >= 20);

    await cluster.server.stop();
    const stoppedAt = Date.now();
    try {
      for (const node of nodes) {
        await waitFor(
          `${node.url}/health to fail`,
          async () => await statusOf(node, "GET", "/health") === 503,
        );
        const refused = await scheduleOn(node, markers);
        assertEquals(refused.status, 503, JSON.stringify(refused));
        assertMatch(
          refused.error ?? "",
          new RegExp(`PostgreSQL database ${databaseOf(cluster.database)}`),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10_000 - (Date.now() - stoppedAt)));
      for (const { pid } of held.slice(0, 2)) assert(processAlive(pid), `task ${pid} runs on`);
    } finally {
      await cluster.server.start();
    }
    for (const node of nodes) {
      await waitFor(`${node.url} to accept schedules again`, async () => {
        const answer = await scheduleOn(node, markers);
        if (answer.status === 202) load.acknowledged.push(answer.jobId!);
        return answer.status === 202;
      });
    }
    await load.stop();
    for (const refusal of load.refusals) {
      assertEquals(refusal.status, 503, JSON.stringify(refusal));
      assertMatch(refusal.error ?? "", /PostgreSQL database/);
    }
    assert(load.refusals.length > 0, "schedules were refused while the database was away");

    await Deno.writeTextFile(release, "");
    for (const { id } of held) {
      const job = await cluster.completed(id);
      assertEquals([job.canceled, job.errored], [false, false], JSON.stringify(job));
    }
    const jobs = await waitFor("every acknowledged job to end", async () => {
      const jobs = await listedById(nodes[0]);
      return load.acknowledged.every((id) => jobs.get(id)?.completed) ? jobs : null;
    }, 60_000);
    for (const id of load.acknowledged) {
      const job = jobs.get(id)!;
      assertEquals([job.canceled, job.errored], [false, false], JSON.stringify(job));
    }
    assertNoneTwice(await lineCounts(markers));
    for (const node of nodes) {
      await waitFor(
        `${node.url}/health to pass again`,
        async () => await statusOf(node, "GET", "/health") === 200,
      );
      await waitFor(`${node.url} to list both nodes alive again`, async () => {
        const { nodes } = await node.json<{ nodes: { name: string; alive: boolean }[] }>(
          "GET",
          "/cluster",
        );
        return nodes.filter((n) => n.alive).map((n) => n.name).sort().join() === "a,b";
      });
    }
  },
);

clusterTest(
  "cluster faults: a node cut off from the database for longer than the heartbeat timeout " +
    "stops its task, and no job runs twice",
  async () => {
    await using cluster = await startCluster(PIPELINES, 2, FAST);
    await using dir = await sharedDir();
    const [a, b] = cluster.nodes;
    const log = `${dir.path}/log`;
    const variables = (name: string, seconds: number) => ({
      name,
      log,
      seconds,
      pidfile: `${dir.path}/${name}.pid`,
    });
    const long = await accepted(a, "logged", variables("long", 300));
    const pgid = await pidFrom(`${dir.path}/long.pid`);
    const after = [
      await accepted(a, "logged", variables("after-a", 0)),
      await accepted(b, "logged", variables("after-b", 0)),
    ];

    await cluster.server.stop();
    const stoppedAt = Date.now();
    try {
      await waitFor(
        "node a to stop its task while the database is away",
        () => groupEnded(pgid),
        2 * TIMEOUT_S * 1000,
      );
      await new Promise((resolve) =>
        setTimeout(resolve, 2 * TIMEOUT_S * 1000 - (Date.now() - stoppedAt))
      );
    } finally {
      await cluster.server.start();
    }

    const ended = await cluster.completed(long);
    assertEquals([ended.canceled, ended.node], [true, "a"]);
    assertMatch(ended.lastError ?? "", /node a lost the database|took node a for dead/);
    for (const id of after) {
      const job = await cluster.completed(id);
      assertEquals([job.canceled, job.errored], [false, false], JSON.stringify(job));
    }
    // One at a time, each once: every start is followed by its own end.
    const lines = await readMarkers(log);
    const names = ["long", "after-a", "after-b"];
    assertEquals(lines.length, 2 * names.length, lines.join("\n"));
    for (let i = 0; i < lines.length; i += 2) {
      const name = lines[i].replace(/^start /, "");
      assert(names.includes(name) && lines[i + 1] === `end ${name}`, lines.join("\n"));
    }
    assertEquals(new Set(lines).size, lines.length, `no job ran twice:\n${lines.join("\n")}`);
  },
);
