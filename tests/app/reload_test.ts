import { assertEquals } from "../assert.ts";
import { startPrunner, waitFor, workspace } from "./support.ts";

const ONE = `
pipelines:
  first:
    tasks:
      t:
        script:
          - sleep {{ .sleep }}
          - echo first version
`;

const TWO = `
pipelines:
  first:
    tasks:
      t:
        script:
          - sleep {{ .sleep }}
          - echo second version
  added:
    tasks:
      t:
        script: [echo added]
`;

const INVALID = `
pipelines:
  first:
    concurrency: -1
    tasks: {}
`;

async function pipelineNames(prunner: { json<T>(m: string, p: string): Promise<T> }) {
  const { pipelines } = await prunner.json<{ pipelines: { pipeline: string }[] }>(
    "GET",
    "/pipelines/",
  );
  return pipelines.map((p) => p.pipeline);
}

Deno.test("SIGUSR1 reloads; invalid files keep the old set; queued jobs keep their definition", async () => {
  await using ws = await workspace(ONE);
  await using prunner = await startPrunner(ws);
  const running = await prunner.schedule("first", { sleep: 1 });
  const queued = await prunner.schedule("first", { sleep: 0 });

  await ws.writePipelines(INVALID);
  Deno.kill(prunner.pid, "SIGUSR1");
  await waitFor("the invalid file to be reported", () => /concurrency/.test(prunner.stderr()));
  assertEquals(await pipelineNames(prunner), ["first"]);

  await ws.writePipelines(TWO);
  Deno.kill(prunner.pid, "SIGUSR1");
  await waitFor("the added pipeline", async () => (await pipelineNames(prunner)).includes("added"));

  for (const id of [running, queued]) await prunner.completed(id);
  const log = (id: string) => prunner.json<{ stdout: string }>("GET", `/job/logs?id=${id}&task=t`);
  assertEquals((await log(queued)).stdout, "first version\n");
  const fresh = await prunner.schedule("first", { sleep: 0 });
  await prunner.completed(fresh);
  assertEquals((await log(fresh)).stdout, "second version\n");
});

Deno.test("--watch picks up an added pipeline and ignores an invalid file", async () => {
  await using ws = await workspace(ONE);
  await using prunner = await startPrunner(ws, ["--watch", "--poll-interval", "200ms"]);
  await ws.writePipelines(INVALID);
  await waitFor("the invalid file to be reported", () => /concurrency/.test(prunner.stderr()));
  assertEquals(await pipelineNames(prunner), ["first"]);
  await ws.writePipelines(TWO);
  await waitFor("the added pipeline", async () => (await pipelineNames(prunner)).includes("added"));
  // The log line reaches this process's pipe independently of the API answer.
  await waitFor("the reload to be logged", () => /Reloaded/.test(prunner.stderr()));
});
