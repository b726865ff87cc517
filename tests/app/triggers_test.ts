/**
 * Triggers end to end: real prunner processes start jobs on their own, at minute boundaries and
 * every second, and catch up after a stop and after SIGKILL without running a tick twice.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  type ApiJob,
  type PrunnerProcess,
  startPrunner,
  waitFor,
  type Workspace,
  workspace,
} from "./support.ts";

/** A job as the API shows it, with the fields of triggered jobs. */
interface TriggeredJob extends ApiJob {
  created: string;
  user: string;
  variables?: Record<string, unknown>;
  trigger?: { cron: string; timezone: string; planned: string };
}

async function jobsOf(prunner: PrunnerProcess, pipeline: string): Promise<TriggeredJob[]> {
  const { jobs } = await prunner.json<{ jobs: TriggeredJob[] }>("GET", "/pipelines/jobs");
  return jobs.filter((job) => job.pipeline === pipeline);
}

/** The planned times of the pipeline's triggered jobs, epoch ms, sorted. */
async function plannedTimes(prunner: PrunnerProcess, pipeline: string): Promise<number[]> {
  return (await jobsOf(prunner, pipeline))
    .map((job) => Date.parse(job.trigger!.planned))
    .sort((a, b) => a - b);
}

/** Waits until the wall clock has passed `ms`, so that ticks are missed during a downtime. */
function clockPast(ms: number): Promise<boolean> {
  return waitFor(`the clock to pass ${new Date(ms).toISOString()}`, () => Date.now() > ms);
}

function assertUnique(planned: number[]): void {
  assertEquals(new Set(planned).size, planned.length, `a tick ran twice: ${planned}`);
}

/** A pipeline `ticking` with a trigger every second that catches up as `catchUp` says. */
function ticking(catchUp: "all" | "latest"): string {
  return `
pipelines:
  ticking:
    schedule:
      - cron: "@every 1s"
        catch_up: ${catchUp}
    tasks:
      tick:
        script: ["true"]
`;
}

/**
 * Runs prunner in `ws` until pipeline `ticking` has `count` triggered jobs, then stops it with
 * `signal`: the planned times of those jobs and prunner's exit code.
 */
async function ticksThenStop(ws: Workspace, count: number, signal: Deno.Signal) {
  await using prunner = await startPrunner(ws);
  const planned = await waitFor(`${count} ticks`, async () => {
    const planned = await plannedTimes(prunner, "ticking");
    return planned.length >= count ? planned : null;
  });
  return { planned, code: await prunner.stop(signal) };
}

Deno.test("a five-field cron trigger ticks at the minute boundary and shows its next run", async () => {
  await using ws = await workspace(`
pipelines:
  minutely:
    schedule:
      - cron: "* * * * *"
        variables: { mode: minute }
    tasks:
      say:
        script: ["echo {{ .mode }}"]
  manual:
    tasks:
      say:
        script: [echo manual]
`);
  await using prunner = await startPrunner(ws);
  const { pipelines } = await prunner.json<{ pipelines: { pipeline: string; nextRun?: string }[] }>(
    "GET",
    "/pipelines/",
  );
  const next = pipelines.find((p) => p.pipeline === "minutely")?.nextRun;
  assert(next?.endsWith(":00Z"), `nextRun at a minute boundary: ${next}`);
  assertEquals(pipelines.find((p) => p.pipeline === "manual")?.nextRun, undefined);
  const [job] = await waitFor(
    "the minute's job",
    async () => {
      const done = (await jobsOf(prunner, "minutely")).filter((j) => j.completed);
      return done.length > 0 ? done : null;
    },
    75_000,
  );
  assertEquals(job.trigger, { cron: "* * * * *", timezone: "UTC", planned: next });
  assertEquals(job.user, "schedule");
  assertEquals(job.variables, { mode: "minute" });
  assert(Date.parse(job.created) >= Date.parse(next!), "not created before its tick");
  assertEquals(job.errored, false);
  const log = await prunner.request("GET", `/job/logs?id=${job.id}&task=say`);
  assertEquals((await log.json()).stdout, "minute\n");
});

Deno.test("after SIGKILL, catch_up: all runs every missed tick once and none twice", async () => {
  await using ws = await workspace(ticking("all"));
  const before = (await ticksThenStop(ws, 3, "SIGKILL")).planned;
  // At least two ticks are missed by 2 s or more (created is shown in whole seconds).
  await clockPast(before.at(-1)! + 5500);
  await using prunner = await startPrunner(ws);
  const restarted = Date.now();
  const planned = await waitFor("a tick after the restart", async () => {
    const all = await plannedTimes(prunner, "ticking");
    return all.at(-1)! > restarted ? all : null;
  });
  assertUnique(planned);
  for (let i = 1; i < planned.length; i++) {
    assertEquals(planned[i] - planned[i - 1], 1000, `every second once: ${planned}`);
  }
  const caughtUp = (await jobsOf(prunner, "ticking")).filter((job) =>
    Date.parse(job.created) - Date.parse(job.trigger!.planned) >= 2000
  );
  assert(caughtUp.length >= 2, `ticks of the downtime ran late: ${caughtUp.length}`);
});

Deno.test("after a stop, catch_up: latest skips older missed ticks and never repeats one", async () => {
  await using ws = await workspace(ticking("latest"));
  const stopped = await ticksThenStop(ws, 2, "SIGINT");
  assertEquals(stopped.code, 0);
  const before = stopped.planned;
  await clockPast(before.at(-1)! + 4000);
  await using prunner = await startPrunner(ws);
  const restarted = Date.now();
  const planned = await waitFor("two ticks after the restart", async () => {
    const all = await plannedTimes(prunner, "ticking");
    return all.filter((tick) => tick > restarted).length >= 2 ? all : null;
  });
  assertUnique(planned);
  const gaps = planned.slice(1).map((tick, i) => tick - planned[i]);
  assertEquals(gaps.filter((gap) => gap >= 3000).length, 1, `one gap, the downtime: ${gaps}`);
  assert(gaps.every((gap) => gap === 1000 || gap >= 3000), `${gaps}`);
});

Deno.test("a reload starts a trigger that was added and stops one that was removed", async () => {
  const yaml = (schedule: string) => `
pipelines:
  ticking:
${schedule}
    tasks:
      tick:
        script: ["true"]
`;
  await using ws = await workspace(yaml(""));
  await using prunner = await startPrunner(ws);
  const nextRun = async () =>
    (await prunner.json<{ pipelines: { nextRun?: string }[] }>("GET", "/pipelines/"))
      .pipelines[0].nextRun;
  assertEquals(await nextRun(), undefined);
  await ws.writePipelines(yaml(`    schedule:\n      - cron: "@every 1s"`));
  Deno.kill(prunner.pid, "SIGUSR1");
  await waitFor("a job of the added trigger", async () => {
    const jobs = await jobsOf(prunner, "ticking");
    return jobs.some((job) => job.trigger?.cron === "@every 1s");
  });
  await ws.writePipelines(yaml(""));
  Deno.kill(prunner.pid, "SIGUSR1");
  await waitFor("the trigger to be gone", async () => await nextRun() === undefined);
});
