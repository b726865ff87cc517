/**
 * End-to-end tests of idempotent scheduling: real prunner processes, real HTTP. Retries with the
 * same `Idempotency-Key` get one job, also when sent at the same time, after a restart and after
 * prunner was killed right after it answered; the CLI's `schedule` sends a key.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  bearer,
  clientEnv,
  type PrunnerProcess,
  runCli,
  startPrunner,
  waitFor,
  workspace,
} from "./support.ts";

const PIPELINES = `
pipelines:
  build:
    tasks:
      compile:
        script:
          - echo {{ .tag | shellquote }}
  deploy:
    tasks:
      push:
        script:
          - "true"
`;

interface Answer {
  status: number;
  replayed: boolean;
  jobId?: string;
  error?: string;
}

/** Sends `POST /pipelines/schedule` as `user`, with `key` as Idempotency-Key unless `null`. */
async function schedule(
  prunner: PrunnerProcess,
  key: string | null,
  body: unknown,
  user = "ann",
): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: await bearer(user),
  };
  if (key !== null) headers["idempotency-key"] = key;
  const response = await fetch(`${prunner.url}/pipelines/schedule`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const json = await response.json() as { jobId?: string; error?: string };
  return {
    status: response.status,
    replayed: response.headers.get("idempotency-replayed") === "true",
    ...json,
  };
}

/** The ids of the stored jobs of `pipeline`. */
async function jobIds(prunner: PrunnerProcess, pipeline: string): Promise<string[]> {
  const page = await prunner.json<{ jobs: { id: string }[] }>(
    "GET",
    `/pipelines/jobs?limit=1000&pipeline=${pipeline}`,
  );
  return page.jobs.map((job) => job.id).sort();
}

const BUILD = { pipeline: "build", variables: { tag: "v1" } };

Deno.test("retries with the same key get the first job; another request with it is a 422", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const first = await schedule(prunner, "key-1", BUILD);
  assertEquals([first.status, first.replayed], [202, false]);
  const retry = await schedule(prunner, "key-1", BUILD);
  assertEquals(retry, { status: 202, replayed: true, jobId: first.jobId });
  await prunner.completed(first.jobId!);
  assertEquals(await schedule(prunner, "key-1", BUILD), retry, "also once the job has ended");

  const changed = await schedule(prunner, "key-1", { ...BUILD, variables: { tag: "v2" } });
  assertEquals(changed.status, 422);
  assertMatch(changed.error!, new RegExp(`already used for a different request.*${first.jobId}`));
  const otherUser = await schedule(prunner, "key-1", BUILD, "bob");
  assertEquals([otherUser.status, otherUser.replayed], [202, false]);

  const plain = [await schedule(prunner, null, BUILD), await schedule(prunner, null, BUILD)];
  assertEquals(plain.map((answer) => [answer.status, answer.replayed]), [[202, false], [
    202,
    false,
  ]]);
  const ids = [first.jobId!, otherUser.jobId!, ...plain.map((answer) => answer.jobId!)].sort();
  assertEquals(new Set(ids).size, 4);
  assertEquals(await jobIds(prunner, "build"), ids);

  const invalid = await schedule(prunner, "", BUILD);
  assertEquals(invalid.status, 400);
  assertMatch(invalid.error!, /Idempotency-Key must not be empty/);
});

Deno.test("requests with the same key at the same time get one job", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const answers = await Promise.all(
    Array.from({ length: 16 }, () => schedule(prunner, "together", BUILD)),
  );
  assertEquals(answers.map((answer) => answer.status), answers.map(() => 202));
  const ids = new Set(answers.map((answer) => answer.jobId));
  assertEquals(ids.size, 1);
  assertEquals(answers.filter((answer) => !answer.replayed).length, 1);
  assertEquals(await jobIds(prunner, "build"), [...ids]);
});

Deno.test("a key is found after a restart and after prunner was killed right after answering", async () => {
  await using ws = await workspace(PIPELINES);
  let first: Answer;
  let killed: Answer;
  {
    await using prunner = await startPrunner(ws);
    first = await schedule(prunner, "before-restart", BUILD);
    assertEquals(await prunner.stop("SIGTERM"), 0);
  }
  {
    await using prunner = await startPrunner(ws);
    assertEquals(await schedule(prunner, "before-restart", BUILD), {
      status: 202,
      replayed: true,
      jobId: first.jobId,
    });
    // The answer comes once the job and its key are committed: nothing after it is needed.
    killed = await schedule(prunner, "before-kill", { pipeline: "deploy" });
    await prunner.stop("SIGKILL");
  }
  await using prunner = await startPrunner(ws);
  assertEquals(await schedule(prunner, "before-kill", { pipeline: "deploy" }), {
    status: 202,
    replayed: true,
    jobId: killed.jobId,
  });
  assertEquals(await jobIds(prunner, "deploy"), [killed.jobId!]);
  assertEquals((await schedule(prunner, "before-kill", BUILD)).status, 422);
});

Deno.test("--idempotency-ttl: after it, the key makes a new job", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws, ["--idempotency-ttl", "1s"]);
  const first = await schedule(prunner, "short", BUILD);
  assertEquals(first.status, 202);
  const fresh = await waitFor("the key to expire", async () => {
    const answer = await schedule(prunner, "short", BUILD);
    return answer.replayed ? null : answer;
  }, 10_000);
  assert(fresh.jobId !== first.jobId, "a new job");
  assertEquals((await jobIds(prunner, "build")).length, 2);
});

Deno.test("prunner schedule sends an idempotency key: --idempotency-key gets the job again", async () => {
  await using ws = await workspace(PIPELINES);
  await using prunner = await startPrunner(ws);
  const run = async (args: string[]) => {
    const result = await runCli(
      ["schedule", "deploy", ...args],
      clientEnv(prunner, { USER: "ann" }),
    );
    assertEquals(result.code, 0, result.stderr);
    return result.stdout.trim();
  };
  const first = await run(["--idempotency-key", "ci-run-7"]);
  assertEquals(await run(["--idempotency-key", "ci-run-7"]), first);
  const own = await run([]);
  assert(own !== first, "a new random key, a new job");
  // The command's key, sent by hand with the same request, gets the command's job.
  assertEquals(await schedule(prunner, "ci-run-7", { pipeline: "deploy", variables: {} }), {
    status: 202,
    replayed: true,
    jobId: first,
  });
  assertEquals((await jobIds(prunner, "deploy")).length, 2);
});
