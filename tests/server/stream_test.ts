import { assertEquals } from "../assert.ts";
import { pipelinesJobsBody } from "../../src/server/stream.ts";
import { job } from "../store/support.ts";
import { jobToJson } from "../../src/server/json.ts";

const encoder = new TextEncoder();

Deno.test("the jobs body joins jobs, runs of several jobs and big pieces into one valid list", async () => {
  const jobs = Array.from(
    { length: 6 },
    (_, i) => job({ created: 100 - i, user: "u".repeat(i * 9000) }),
  );
  const json = jobs.map((j) => JSON.stringify(jobToJson(j)));
  // A run of two jobs' JSON (as a listing pack sends it), a Job, and pieces over 16 KiB.
  const batches = [[encoder.encode(json[0])], [encoder.encode(`${json[1]},${json[2]}`), jobs[3]], [
    encoder.encode(json[4]),
    encoder.encode(json[5]),
  ]];
  async function* iterate() {
    yield* batches;
  }
  const errors: unknown[] = [];
  const body = await pipelinesJobsBody([], iterate(), (error) => errors.push(error));
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const decoder = new TextDecoder();
  const text = chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") +
    decoder.decode();
  const parsed = JSON.parse(text) as { pipelines: unknown[]; jobs: { id: string }[] };
  assertEquals(parsed.jobs.map((j) => j.id), jobs.map((j) => j.id));
  assertEquals(errors, []);
  // The pieces over 16 KiB went out as they are.
  assertEquals(chunks.some((chunk) => chunk.length === json[5].length), true);
});
