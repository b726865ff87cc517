/**
 * Cluster mode's behaviour, end to end: real prunner nodes on one real PostgreSQL database,
 * driven over HTTP. A job is seen, followed and canceled from any node; `concurrency`, the wait
 * list's strategies and `start_delay` hold across the nodes; a reload on one node leaves the
 * others working; an idempotency key or a cron tick makes one job in the whole cluster. (Faults,
 * a node killed or the database away, are `faults_test.ts`'s.)
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  accepted,
  type ClusterJob,
  clusterTest,
  listed,
  logs,
  openEvents,
  pidFrom,
  postgresMissing,
  processAlive,
  readMarkers,
  schedule,
  sharedDir,
  startCluster,
  statusOf,
  untilFile,
  waitFor,
} from "./support.ts";

if (postgresMissing !== null) console.warn(`cluster behaviour tests skipped: ${postgresMissing}`);

clusterTest("a job on one node is seen, followed, read and canceled from the others", async () => {
  await using dir = await sharedDir();
  await using cluster = await startCluster(
    `
pipelines:
  long:
    tasks:
      work:
        script:
          - echo working on it
          - echo $$ > ${dir.path}/pid
          - ${untilFile(`${dir.path}/never`)}
`,
    3,
  );
  const [a, b, c] = cluster.nodes;
  const events = await openEvents(b);
  const id = await accepted(a, "long");

  const pid = await pidFrom(`${dir.path}/pid`);
  for (const i of [1, 2]) {
    const job = await cluster.job(id, i);
    assertEquals([job.pipeline, job.node, job.completed], ["long", "a", false]);
    assertEquals(job.tasks.map((task) => task.status), ["running"]);
  }
  for (const node of [b, c]) {
    assertEquals((await listed(node, "long")).map((job) => [job.id, job.node]), [[id, "a"]]);
  }
  await waitFor(
    "the running task's output on node c",
    async () => (await logs(c, id, "work")).stdout === "working on it\n",
  );

  assertEquals(await statusOf(b, "POST", `/job/cancel?id=${id}`), 200);
  const ended = await cluster.completed(id, 2);
  assertEquals([ended.canceled, ended.node], [true, "a"]);
  assertEquals(ended.tasks.map((task) => task.status), ["canceled"]);
  await waitFor("the task's process to end", () => !processAlive(pid));

  const seen = await events.collect((m) =>
    m.event === "job_completed" && JSON.parse(m.data).job.id === id
  );
  await events.cancel();
  const mine = seen.filter((m) => m.event !== null && JSON.parse(m.data).job?.id === id);
  assertEquals(mine[0].event, "job_scheduled");
  assert(mine.some((m) => m.event === "job_started"), `events on b: ${mine.map((m) => m.event)}`);
  assertEquals(JSON.parse(mine.at(-1)!.data).job.canceled, true);

  for (const node of [b, c]) {
    assertEquals((await logs(node, id, "work")).stdout, "working on it\n");
  }
});

clusterTest("concurrency: 1 on three nodes: one job at a time, in accepted order", async () => {
  await using dir = await sharedDir();
  const markers = `${dir.path}/markers`;
  await using cluster = await startCluster(
    `
pipelines:
  serial:
    concurrency: 1
    tasks:
      work:
        script:
          - echo "start {{ .n }} $(date +%s%N)" >> ${markers}
          - sleep 0.05
          - echo "end {{ .n }} $(date +%s%N)" >> ${markers}
`,
    3,
  );
  const ids: string[] = [];
  for (let n = 0; n < 30; n++) {
    ids.push(await accepted(cluster.nodes[n % 3], "serial", { n }));
  }
  const ended = await waitFor("all jobs to complete", async () => {
    const jobs = await listed(cluster.nodes[1], "serial");
    return jobs.length === ids.length && jobs.every((job) => job.completed) ? jobs : null;
  });
  assertEquals(ended.filter((job) => job.errored || job.canceled).map((job) => job.id), []);

  const lines = (await readMarkers(markers)).map((line) => {
    const [kind, n, at] = line.split(" ");
    return { kind, n: Number(n), at: BigInt(at) };
  });
  // One job at a time: each start is followed by its own end before the next start.
  assertEquals(
    lines.map(({ kind, n }) => `${kind} ${n}`),
    ids.flatMap((_, n) => [`start ${n}`, `end ${n}`]),
  );
  for (let i = 1; i < lines.length; i++) {
    assert(
      lines[i].at >= lines[i - 1].at,
      `markers in time order: ${lines[i - 1].n}, ${lines[i].n}`,
    );
  }
});

/** Whether the job ended canceled without ever starting (replaced or canceled while waiting). */
function replaced(job: ClusterJob): boolean {
  return job.completed && job.canceled && job.start === undefined &&
    job.tasks.every((task) => task.status === "canceled");
}

clusterTest("replace, queue_limit and partitioned_replace hold across nodes", async () => {
  await using dir = await sharedDir();
  const release = `${dir.path}/release`;
  /** A task that writes `{{ .n }}` to the shared start order, then waits for the release. */
  const work = `
    tasks:
      work:
        script:
          - echo {{ .n }} >> ${dir.path}/order
          - ${untilFile(release)}`;
  await using cluster = await startCluster(
    `
pipelines:
  latest:
    concurrency: 1
    queue_limit: 1
    queue_strategy: replace
${work}
  bounded:
    concurrency: 1
    queue_limit: 2
${work}
  partitioned:
    concurrency: 1
    queue_strategy: partitioned_replace
    queue_partition_limit: 1
${work}
`,
    3,
  );
  const [a, b, c] = cluster.nodes;
  const started = async (id: string) => (await cluster.job(id, 2)).start !== undefined;

  const latest = [
    await accepted(a, "latest", { n: "l0" }),
    await accepted(b, "latest", { n: "l1" }),
    await accepted(c, "latest", { n: "l2" }),
    await accepted(a, "latest", { n: "l3" }),
  ];
  const bounded = [
    await accepted(b, "bounded", { n: "b0" }),
    await accepted(c, "bounded", { n: "b1" }),
    await accepted(a, "bounded", { n: "b2" }),
  ];
  const full = await schedule(b, { pipeline: "bounded", variables: { n: "b3" } });
  assertEquals(full.status, 400);
  assertMatch(full.error!, /queue full/i);
  // Canceling a waiting job on another node than the one that took it frees its place.
  assertEquals(await statusOf(a, "POST", `/job/cancel?id=${bounded[1]}`), 200);
  bounded.push(await accepted(b, "bounded", { n: "b3" }));
  const partitioned = [
    await accepted(c, "partitioned", { n: "p0" }, "x"),
    await accepted(a, "partitioned", { n: "p1" }, "x"),
    await accepted(b, "partitioned", { n: "p2" }, "y"),
    await accepted(c, "partitioned", { n: "p3" }, "x"),
  ];
  await waitFor(
    "the first jobs to start",
    async () =>
      (await Promise.all([latest[0], bounded[0], partitioned[0]].map(started))).every(Boolean),
  );

  await Deno.writeTextFile(release, "");
  const ends = async (ids: string[]) =>
    await Promise.all(ids.map((id, i) => cluster.completed(id, i % 3)));
  const [l, bd, p] = [await ends(latest), await ends(bounded), await ends(partitioned)];
  assertEquals(l.map(replaced), [false, true, true, false]);
  assertEquals(bd.map(replaced), [false, true, false, false]);
  assertEquals(p.map(replaced), [false, true, false, false]);
  const ran = [...l, ...bd, ...p].filter((job) => !replaced(job));
  assertEquals(ran.filter((job) => job.canceled || job.errored).map((job) => job.id), []);
  const order = await readMarkers(`${dir.path}/order`);
  const ofPipeline = (prefix: string) => order.filter((n) => n.startsWith(prefix));
  assertEquals(ofPipeline("l"), ["l0", "l3"]);
  assertEquals(ofPipeline("b"), ["b0", "b2", "b3"]);
  assertEquals(ofPipeline("p"), ["p0", "p2", "p3"]);
});

clusterTest("start_delay with replace debounces schedules sent to different nodes", async () => {
  await using dir = await sharedDir();
  const delayMs = 2000;
  await using cluster = await startCluster(
    `
pipelines:
  debounced:
    concurrency: 1
    queue_limit: 1
    queue_strategy: replace
    start_delay: ${delayMs}ms
    tasks:
      work:
        script:
          - echo {{ .n }} $(date +%s%3N) >> ${dir.path}/starts
`,
    3,
  );
  const ids: string[] = [];
  let lastSent = 0;
  for (let n = 0; n < 3; n++) {
    lastSent = Date.now();
    ids.push(await accepted(cluster.nodes[n], "debounced", { n }));
  }
  const jobs = await Promise.all(ids.map((id, i) => cluster.completed(id, (i + 1) % 3)));
  assertEquals(jobs.map(replaced), [true, true, false]);
  assertEquals([jobs[2].canceled, jobs[2].errored], [false, false]);
  const starts = await readMarkers(`${dir.path}/starts`);
  assertEquals(starts.length, 1, `one run: ${starts}`);
  const [n, at] = starts[0].split(" ").map(Number);
  assertEquals(n, 2);
  assert(at >= lastSent + delayMs, `started ${at - lastSent} ms after the last schedule`);
});

clusterTest("a reload on one node while another runs jobs: both keep working", async () => {
  await using dir = await sharedDir();
  const release = `${dir.path}/release`;
  const yaml = (version: string, added: string) => `
pipelines:
  first:
    concurrency: 1
    tasks:
      t:
        script:
          - ${untilFile(release)}
          - echo ${version} version
${added}`;
  await using cluster = await startCluster(yaml("first", ""), 2);
  const [a, b] = cluster.nodes;
  const running = await accepted(a, "first");
  await waitFor("the job to run on a", async () => (await cluster.job(running)).start);
  const waiting = await accepted(b, "first");

  await cluster.workspaces[1].writePipelines(
    yaml("second", "  added:\n    tasks:\n      t:\n        script: [echo added]\n"),
  );
  Deno.kill(b.pid, "SIGUSR1");
  const names = async (node: typeof a) =>
    (await node.json<{ pipelines: { pipeline: string }[] }>("GET", "/pipelines/")).pipelines
      .map((p) => p.pipeline);
  await waitFor("the added pipeline on b", async () => (await names(b)).includes("added"));
  assertEquals(await names(a), ["first"]);
  const added = await accepted(b, "added");
  assertEquals((await cluster.completed(added, 0)).errored, false);
  assertEquals((await logs(a, added, "t")).stdout, "added\n");
  assertEquals((await cluster.job(running, 1)).tasks.map((task) => task.status), ["running"]);

  await Deno.writeTextFile(release, "");
  const after = [await accepted(a, "first"), await accepted(b, "first")];
  const jobs = await Promise.all([running, waiting, ...after].map((id) => cluster.completed(id)));
  assertEquals(jobs.filter((job) => job.canceled || job.errored).map((job) => job.id), []);
  // Each job runs the tasks of the definition loaded on the node that started it.
  for (const job of jobs) {
    const version = job.node === "a" ? "first" : "second";
    assertEquals((await logs(b, job.id, "t")).stdout, `${version} version\n`, job.node);
  }
  assertEquals(jobs[0].node, "a");
});

clusterTest("one Idempotency-Key sent to two nodes makes one job", async () => {
  await using cluster = await startCluster(
    `
pipelines:
  build:
    tasks:
      t:
        script: ["true"]
`,
    2,
  );
  const [a, b] = cluster.nodes;
  const body = { pipeline: "build", variables: { tag: "v1" } };
  const first = await schedule(a, body, { "idempotency-key": "retry-1" });
  const retry = await schedule(b, body, { "idempotency-key": "retry-1" });
  assertEquals([first.status, first.replayed], [202, false]);
  assertEquals(retry, { status: 202, replayed: true, jobId: first.jobId });

  const together = await Promise.all(
    Array.from(
      { length: 16 },
      (_, i) => schedule(cluster.nodes[i % 2], body, { "idempotency-key": "together" }),
    ),
  );
  assertEquals(together.map((answer) => answer.status), together.map(() => 202));
  assertEquals(new Set(together.map((answer) => answer.jobId)).size, 1);
  assertEquals(together.filter((answer) => !answer.replayed).length, 1);
  const ids = [first.jobId!, together[0].jobId!].sort();
  for (const node of cluster.nodes) {
    assertEquals((await listed(node, "build")).map((job) => job.id).sort(), ids);
  }
});

clusterTest("a cron trigger on two nodes starts one job per tick", async () => {
  await using cluster = await startCluster(
    `
pipelines:
  ticking:
    schedule:
      - cron: "@every 1s"
    tasks:
      tick:
        script: ["true"]
`,
    2,
  );
  const planned = await waitFor("four ticks", async () => {
    const jobs = await listed(cluster.nodes[1], "ticking") as (ClusterJob & {
      trigger: { planned: string };
    })[];
    return jobs.length >= 4 ? jobs.map((job) => Date.parse(job.trigger.planned)) : null;
  });
  planned.sort((x, y) => x - y);
  assertEquals(new Set(planned).size, planned.length, `a tick ran twice: ${planned}`);
  const gaps = planned.slice(1).map((tick, i) => tick - planned[i]);
  assert(gaps.every((gap) => gap === 1000), `every second once: ${gaps}`);
  // Every node's trigger fires; the node that loses a tick starts nothing and warns of nothing.
  assert(!/could not start a job/.test(cluster.stderr()), cluster.stderr());
});
