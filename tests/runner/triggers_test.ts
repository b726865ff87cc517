import type { Definitions, TriggerDefinition } from "../../src/definition/types.ts";
import type { ScheduleRequest } from "../../src/runner/api.ts";
import { createTriggers } from "../../src/runner/triggers.ts";
import { QueueFullError, TickTakenError } from "../../src/errors.ts";
import type { TriggerTick } from "../../src/store/types.ts";
import { pipeline } from "../engine/fixtures.ts";
import { assert, assertEquals } from "../assert.ts";
import { completed, testRunner, waitFor } from "./support.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function trigger(fields: Partial<TriggerDefinition> = {}): TriggerDefinition {
  return { cron: "* * * * *", timezone: "UTC", variables: null, catchUp: "none", ...fields };
}

function definitions(...triggers: TriggerDefinition[]): Definitions {
  return new Map([["nightly", pipeline({ name: "nightly", schedule: triggers })]]);
}

/**
 * Triggers on a fake clock whose schedule requests are recorded and refused with `refusal`
 * (default: the wait list is full).
 */
function fakeTriggers(
  start: number,
  refusal: (request: ScheduleRequest) => Error = (request) =>
    new QueueFullError(request.pipeline, 0),
) {
  let clock = start;
  const requests: ScheduleRequest[] = [];
  const savedTicks: TriggerTick[] = [];
  const triggers = createTriggers({
    now: () => clock,
    schedule(request) {
      requests.push(request);
      return Promise.reject(refusal(request));
    },
    saveTick(tick) {
      savedTicks.push(tick);
      return Promise.resolve();
    },
  });
  const planned = () => requests.map((request) => request.trigger?.planned);
  return {
    triggers,
    requests,
    savedTicks,
    planned,
    /** Moves the clock and lets the triggers look, as their timer would. */
    advanceTo(ms: number) {
      clock = ms;
      triggers.check();
    },
    [Symbol.dispose]: () => triggers.stop(),
  };
}

Deno.test("a trigger starts one job per tick, as user schedule, with its variables", () => {
  using t = fakeTriggers(10 * MINUTE + 30_000);
  const variables = { mode: "full" };
  t.triggers.start(definitions(trigger({ variables })), []);
  assertEquals(t.requests, [], "a new trigger runs nothing of the past");
  assertEquals(t.triggers.nextRun("nightly"), 11 * MINUTE);
  t.advanceTo(11 * MINUTE - 1);
  assertEquals(t.requests, []);
  t.advanceTo(11 * MINUTE);
  t.advanceTo(11 * MINUTE + 10);
  assertEquals(t.requests, [{
    pipeline: "nightly",
    variables: { mode: "full" },
    user: "schedule",
    queuePartition: null,
    trigger: { cron: "* * * * *", timezone: "UTC", planned: 11 * MINUTE },
  }]);
  assertEquals(t.triggers.nextRun("nightly"), 12 * MINUTE);
  t.requests[0].variables!.mode = "changed";
  t.advanceTo(12 * MINUTE);
  assertEquals(t.requests[1].variables, { mode: "full" }, "each job gets its own copy");
});

Deno.test("after a downtime the stored tick and catch_up decide what runs", () => {
  const stored = [{ pipeline: "nightly", trigger: "0 * * * * UTC", planned: 10 * HOUR }];
  const now = 15 * HOUR + 20 * MINUTE;
  for (
    const [catchUp, expected] of [
      ["none", []],
      ["latest", [15 * HOUR]],
      ["all", [11, 12, 13, 14, 15].map((h) => h * HOUR)],
    ] as const
  ) {
    using t = fakeTriggers(now);
    t.triggers.start(definitions(trigger({ cron: "0 * * * *", catchUp })), stored);
    assertEquals(t.planned(), [...expected], catchUp);
    t.advanceTo(now + 1000);
    assertEquals(t.planned(), [...expected], `${catchUp}: nothing fires twice`);
  }
});

Deno.test("a reload adds and removes triggers; after stop nothing ticks", () => {
  using t = fakeTriggers(0);
  t.triggers.start(new Map([["nightly", pipeline({ name: "nightly" })]]), []);
  assertEquals(t.triggers.nextRun("nightly"), null);
  t.triggers.update(definitions(trigger({ cron: "@every 5m" })));
  assertEquals(t.triggers.nextRun("nightly"), 5 * MINUTE);
  t.advanceTo(5 * MINUTE);
  assertEquals(t.planned(), [5 * MINUTE]);
  t.triggers.update(definitions(trigger({ cron: "@every 5m" }), trigger({ cron: "@every 2m" })));
  assertEquals(t.triggers.nextRun("nightly"), 6 * MINUTE);
  t.triggers.update(definitions());
  assertEquals(t.triggers.nextRun("nightly"), null);
  t.advanceTo(10 * MINUTE);
  assertEquals(t.planned(), [5 * MINUTE]);
  t.triggers.update(definitions(trigger({ cron: "@every 5m" })));
  assertEquals(t.planned(), [5 * MINUTE], "a trigger added again counts from now");
  t.triggers.stop();
  assertEquals(t.triggers.nextRun("nightly"), null);
  t.advanceTo(15 * MINUTE);
  assertEquals(t.planned(), [5 * MINUTE]);
});

Deno.test("a tick whose job is refused is stored, so that a restart does not run it", async () => {
  using t = fakeTriggers(0);
  t.triggers.start(definitions(trigger({ cron: "@every 1m" })), []);
  t.advanceTo(MINUTE);
  await waitFor("the refused tick to be stored", () => t.savedTicks.length > 0);
  assertEquals(t.savedTicks, [{ pipeline: "nightly", trigger: "@every 1m UTC", planned: MINUTE }]);
});

Deno.test("a tick another node of the cluster started a job for is not stored again", async () => {
  using t = fakeTriggers(0, (request) => new TickTakenError(request.pipeline, MINUTE));
  t.triggers.start(definitions(trigger({ cron: "@every 1m" })), []);
  t.advanceTo(MINUTE);
  assertEquals(t.planned(), [MINUTE]);
  // The refusal's handling has run once the rejected request's callbacks had their turn.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(t.savedTicks, []);
});

Deno.test("triggered jobs run through the runner's wait list and say which tick made them", async () => {
  await using t = await testRunner([pipeline({
    name: "ticking",
    queueLimit: 5,
    tasks: { echo: { script: ["echo {{ .mode }}"] } },
    schedule: [trigger({ cron: "@every 1s", variables: { mode: "tick" } })],
  })]);
  t.runner.startTriggers([]);
  const jobs = await waitFor("two triggered jobs", () => {
    const saved = [...t.store.saved.values()];
    return saved.length >= 2 ? saved : null;
  });
  for (const job of jobs) {
    assertEquals(job.user, "schedule");
    assertEquals(job.variables, { mode: "tick" });
    assertEquals(job.trigger?.planned! % 1000, 0, "ticks at whole seconds");
    assertEquals((await completed(t.runner, job.id)).errored, false);
  }
  const next = t.runner.listPipelines()[0].nextRun!;
  assertEquals(next % 1000, 0);
  t.runner.setDefinitions(new Map([["ticking", pipeline({ name: "ticking" })]]));
  assertEquals(t.runner.listPipelines()[0].nextRun, null, "a reload without schedule stops it");
});

Deno.test("a tick refused by a full pipeline is stored by the runner", async () => {
  await using t = await testRunner([pipeline({
    name: "busy",
    queueLimit: 0,
    tasks: { wait: { script: ["sleep 3"] } },
    schedule: [trigger({ cron: "@every 1s", catchUp: "all" })],
  })]);
  t.runner.startTriggers([]);
  const running = await waitFor("the first job", () => [...t.store.saved.values()][0]);
  const refused = await waitFor("a refused tick", () => t.store.ticks.get("busy @every 1s UTC"));
  assert(refused > running.trigger!.planned, "a later tick than the running job's");
  assertEquals(t.store.saved.size, 1, "the refused tick has no job");
});
