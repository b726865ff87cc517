/**
 * Response bodies written piece by piece, so that neither 100,000 jobs nor a 500 MB log are ever
 * held in memory as one string. The streams are pull-based: nothing is read ahead of what the
 * client accepts.
 *
 * @module
 */
import type { Job } from "../engine/job.ts";
import type { PipelineInfo } from "../runner/api.ts";
import { jobToJson, pipelineToJson } from "./json.ts";

/** Bytes of JSON collected before a chunk is handed to the connection. */
const CHUNK_CHARS = 64 * 1024;

const encoder = new TextEncoder();

/**
 * The body of `GET /pipelines/jobs`: `{"pipelines":[…],"jobs":[…]}` with the jobs written as
 * they are iterated. The first job is fetched before this resolves, so a failing store yields an
 * error response rather than a cut-off body; a later failure aborts the body and is passed to
 * `onError`. A job that cannot be turned into JSON is left out (and passed to `onSkip`), so one
 * bad record never breaks the list for everyone.
 */
export async function pipelinesJobsBody(
  pipelines: PipelineInfo[],
  jobs: AsyncIterable<Job>,
  onError: (error: unknown) => void,
  onSkip: (job: Job, error: unknown) => void = () => {},
): Promise<ReadableStream<Uint8Array>> {
  const iterator = jobs[Symbol.asyncIterator]();
  let result = await iterator.next();

  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      let text = `{"pipelines":${JSON.stringify(pipelines.map(pipelineToJson))},"jobs":[`;
      let separator = "";
      while (!result.done) {
        let json: string | null = null;
        try {
          json = JSON.stringify(jobToJson(result.value));
        } catch (error) {
          onSkip(result.value, error);
        }
        if (json !== null) {
          text += separator + json;
          separator = ",";
        }
        if (text.length >= CHUNK_CHARS) {
          yield encoder.encode(text);
          text = "";
        }
        result = await iterator.next();
      }
      yield encoder.encode(text + "]}\n");
    } catch (error) {
      onError(error);
      throw error;
    } finally {
      if (!result.done) await iterator.return?.();
    }
  }
  return ReadableStream.from(generate());
}

/**
 * The body of `GET /job/logs`: `{"stdout":"…","stderr":"…"}`, each log decoded as UTF-8
 * incrementally (invalid bytes become U+FFFD) and escaped chunk by chunk. A missing log (`null`)
 * is an empty string. Both sources are canceled when the body ends or the client goes away.
 */
export function logsBody(
  stdout: ReadableStream<Uint8Array> | null,
  stderr: ReadableStream<Uint8Array> | null,
  onError: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      yield encoder.encode('{"stdout":"');
      if (stdout) yield* jsonStringContent(stdout);
      yield encoder.encode('","stderr":"');
      if (stderr) yield* jsonStringContent(stderr);
      yield encoder.encode('"}\n');
    } catch (error) {
      onError(error);
      throw error;
    } finally {
      await Promise.allSettled([stdout?.cancel(), stderr?.cancel()]);
    }
  }
  return ReadableStream.from(generate());
}

/** The bytes of `source` as the inside of a JSON string literal, in UTF-8. */
async function* jsonStringContent(
  source: ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  for await (const bytes of source) {
    const text = decoder.decode(bytes, { stream: true });
    if (text !== "") yield encoder.encode(escapeJson(text));
  }
  const rest = decoder.decode();
  if (rest !== "") yield encoder.encode(escapeJson(rest));
}

function escapeJson(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
