/**
 * The runner's cluster part on an in-memory cluster store: decisions it makes on states that
 * other nodes' writes leave between decisions.
 */
import type { PipelineDefinition } from "../../src/definition/types.ts";
import { createJob } from "../../src/engine/create_job.ts";
import type { Job } from "../../src/engine/job.ts";
import { markJobCompleted, markJobStarted } from "../../src/engine/task_graph.ts";
import { QueueFullError } from "../../src/errors.ts";
import { createClusterRunner } from "../../src/runner/cluster.ts";
import { createEventHub } from "../../src/runner/events.ts";
import type { JobLifecycle } from "../../src/runner/job_lifecycle.ts";
import { type ActiveJob, createRunnerState } from "../../src/runner/state.ts";
import type { ClusterStore, PipelineTransaction } from "../../src/store/cluster.ts";
import { pipeline } from "../engine/fixtures.ts";
import { assertEquals, assertRejects } from "../assert.ts";

/** The jobs of a cluster in the order they were accepted; decisions see and write them. */
function memoryCluster() {
  const jobs = new Map<string, Job>();
  const transaction: PipelineTransaction = {
    queued: () =>
      Promise.resolve(
        [...jobs.values()].filter((job) => !job.completed).map((job) => ({
          id: job.id,
          created: job.created,
          started: job.start !== null,
          partition: job.queuePartition,
          node: job.node ?? null,
        })),
      ),
    jobs: (ids) =>
      Promise.resolve(ids.flatMap((id) => jobs.has(id) ? [structuredClone(jobs.get(id)!)] : [])),
    save(saved) {
      for (const job of saved) jobs.set(job.id, structuredClone(job));
      return Promise.resolve();
    },
    findIdempotent: () => Promise.resolve(null),
    tickTaken: () => Promise.resolve(false),
    saveTick: () => Promise.resolve(),
    requestCancel: () => {},
    notifyPipeline: () => {},
  };
  // Only decisions are asked for in these tests.
  const store = {
    withPipeline: (_pipeline: string, decide: (tx: PipelineTransaction) => Promise<unknown>) =>
      decide(transaction),
  } as unknown as ClusterStore;
  return { jobs, store, save: (job: Job) => transaction.save([job]) };
}

function job(definition: PipelineDefinition, id: string, created: number): Job {
  return createJob(definition, {
    id,
    now: created,
    variables: null,
    user: "",
    queuePartition: null,
  });
}

/** A cluster runner of node `here` on `cluster`: the ids of the jobs it starts, in order. */
function nodeOn(cluster: ReturnType<typeof memoryCluster>, definition: PipelineDefinition) {
  const started: string[] = [];
  const runner = createClusterRunner({
    store: cluster.store,
    node: "here",
    state: createRunnerState(new Map([[definition.name, definition]])),
    lifecycle: {
      // The job is marked started in the decision; its tasks would run on release.
      prepareStart(entry: ActiveJob, at: number) {
        markJobStarted(entry.job, at);
        return { release: () => started.push(entry.job.id), drop: () => {} };
      },
    } as unknown as JobLifecycle,
    events: createEventHub(),
    logs: { ended: () => Promise.resolve() },
    now: () => 5,
    onCompleted: () => {},
  });
  const admit = async () => {
    try {
      return await runner.admit(definition, {
        pipeline: definition.name,
        variables: null,
        user: "",
        queuePartition: null,
      }, null);
    } finally {
      runner.stopTimers();
    }
  };
  return { started, admit };
}

/**
 * Stores job "first", started by node "other" and ended by it outside a decision (its decision
 * that starts the next job is still to come), and the waiting jobs `waiting`.
 */
async function slotFreedOutsideADecision(
  cluster: ReturnType<typeof memoryCluster>,
  definition: PipelineDefinition,
  waiting: string[],
): Promise<void> {
  const first = job(definition, "first", 1);
  markJobStarted(first, 2);
  first.node = "other";
  await cluster.save(first);
  for (const id of waiting) await cluster.save(job(definition, id, 3));
  markJobCompleted(first, 4);
  await cluster.save(first);
}

const summary = (cluster: ReturnType<typeof memoryCluster>) =>
  [...cluster.jobs.values()].map((stored) => [stored.id, stored.start !== null, stored.node]);

Deno.test("a new job does not overtake one that waits for a slot freed outside a decision", async () => {
  const definition = pipeline({ name: "serial", concurrency: 1 });
  const cluster = memoryCluster();
  await slotFreedOutsideADecision(cluster, definition, ["second"]);
  const node = nodeOn(cluster, definition);
  const { job: third } = await node.admit();
  assertEquals(node.started, ["second"]);
  assertEquals(third.start, null);
  assertEquals(summary(cluster), [
    ["first", true, "other"],
    ["second", true, "here"],
    [third.id, false, undefined],
  ]);
});

Deno.test("a refused job still starts the job that waited for a free slot", async () => {
  // A reload lowered the limit below what waits.
  const definition = pipeline({ name: "serial", concurrency: 1, queueLimit: 1 });
  const cluster = memoryCluster();
  await slotFreedOutsideADecision(cluster, definition, ["second", "third"]);
  const node = nodeOn(cluster, definition);
  await assertRejects(node.admit, QueueFullError);
  assertEquals(node.started, ["second"]);
  assertEquals(summary(cluster), [
    ["first", true, "other"],
    ["second", true, "here"],
    ["third", false, undefined],
  ]);
});
