/**
 * Response bodies written piece by piece, so that neither 100,000 jobs nor a 500 MB log are ever
 * held in memory as one string. The streams are pull-based: nothing is read ahead of what the
 * client accepts.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import type { Job } from "../engine/job.ts";
import type { PipelineInfo } from "../runner/api.ts";
import { jobToJson, pipelineToJson } from "./json.ts";

/** Bytes of JSON collected before a chunk is handed to the connection. */
const CHUNK_BYTES = 64 * 1024;

/** Pieces of at least this many bytes are handed to the connection as they are. */
const DIRECT_BYTES = 16 * 1024;

const encoder = new TextEncoder();

/** Collects byte pieces into chunks of about {@linkcode CHUNK_BYTES}. */
interface ChunkBuilder {
  /** Bytes collected so far. */
  readonly length: number;
  add(piece: Uint8Array): void;
  /** The collected bytes as one chunk; empties the builder. */
  take(): Uint8Array;
}

function chunkBuilder(): ChunkBuilder {
  let pieces: Uint8Array[] = [];
  let length = 0;
  return {
    get length() {
      return length;
    },
    add(piece) {
      pieces.push(piece);
      length += piece.length;
    },
    take() {
      const chunk = concatBytes(pieces);
      pieces = [];
      length = 0;
      return chunk;
    },
  };
}

const COMMA = encoder.encode(",");

/**
 * The body of `GET /pipelines/jobs`: `{"pipelines":[…],"jobs":[…]}` with the jobs written as
 * their batches are iterated: a job's stored API JSON as it is, a {@linkcode Job} serialized.
 * The first batch is fetched before this resolves, so a failing store yields an error response
 * rather than a cut-off body; a later failure aborts the body and is passed to `onError`. A job
 * that cannot be turned into JSON is left out (and passed to `onSkip`), so one bad record never
 * breaks the list for everyone.
 */
export async function pipelinesJobsBody(
  pipelines: PipelineInfo[],
  jobs: AsyncIterable<readonly (Job | Uint8Array)[]>,
  onError: (error: unknown) => void,
  onSkip: (job: Job, error: unknown) => void = () => {},
): Promise<ReadableStream<Uint8Array>> {
  const iterator = jobs[Symbol.asyncIterator]();
  let result = await iterator.next();

  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      const chunk = chunkBuilder();
      chunk.add(
        encoder.encode(`{"pipelines":${JSON.stringify(pipelines.map(pipelineToJson))},"jobs":[`),
      );
      let first = true;
      while (!result.done) {
        for (const job of result.value) {
          let json: Uint8Array | null = job instanceof Uint8Array ? job : null;
          if (json === null) {
            try {
              json = encoder.encode(JSON.stringify(jobToJson(job as Job)));
            } catch (error) {
              onSkip(job as Job, error);
              continue;
            }
          }
          if (!first) chunk.add(COMMA);
          first = false;
          if (json.length >= DIRECT_BYTES) {
            // Big enough to go as it is (a listing pack), without a copy.
            if (chunk.length > 0) yield chunk.take();
            yield json;
            continue;
          }
          chunk.add(json);
          if (chunk.length >= CHUNK_BYTES) yield chunk.take();
        }
        result = await iterator.next();
      }
      chunk.add(encoder.encode("]}\n"));
      yield chunk.take();
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
