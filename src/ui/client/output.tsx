/**
 * A task's output, followed live through `GET /job/logs/stream`: ANSI colours rendered, stderr
 * marked apart from stdout, scrolled to the end unless the reader scrolled up, and downloads of
 * the raw logs.
 *
 * @module
 */
import { AnsiUp } from "ansi_up";
import { useEffect, useRef, useState } from "preact/hooks";
import { decodeLogEvent } from "../../client/events.ts";
import type { LogStream, TaskStatus } from "../../client/json.ts";
import type { Api } from "./api.ts";
import { failureMessage } from "./hooks.ts";
import { readSse } from "./sse.ts";

/** How the stream ended: the task's status and exit code. */
interface End {
  status: TaskStatus;
  exitCode: number;
}

/** Distance from the bottom, in pixels, that still counts as "at the end". */
const STICK_SLACK = 24;
/** The most output kept on screen, in characters; earlier output is dropped (memory stays flat). */
export const MAX_SHOWN_CHARS = 1_000_000;
/** How often new output is put on screen, in milliseconds. */
const FLUSH_MS = 100;
/** Output is kept in pieces of about this many characters, so the oldest can be dropped. */
const PIECE_CHARS = 64 * 1024;

/** Shows and follows one task's output. */
export function TaskOutput({ api, jobId, task }: { api: Api; jobId: string; task: string }) {
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const [following, setFollowing] = useState(true);
  const [end, setEnd] = useState<End | null>(null);
  const [trimmed, setTrimmed] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const target = pre.current!;
    target.replaceChildren();
    setEnd(null);
    setTrimmed(false);
    let shown = 0;
    setProblem(null);
    const converters: Record<LogStream, AnsiUp> = { stdout: new AnsiUp(), stderr: new AnsiUp() };
    for (const converter of Object.values(converters)) converter.use_classes = true;
    const controller = new AbortController();
    // Output is put on screen at most every FLUSH_MS: laying out the log after every chunk would
    // make a fast-printing task freeze the page. A timer rather than animation frames, which
    // stop in hidden tabs while the output keeps coming; a full queue is shown at once.
    let queued: { stream: LogStream; text: string }[] = [];
    let queuedChars = 0;
    let timer = 0;
    const flush = () => {
      clearTimeout(timer);
      timer = 0;
      queuedChars = 0;
      for (const { stream, text } of queued) {
        for (let start = 0; start < text.length;) {
          let end = Math.min(start + PIECE_CHARS, text.length);
          // Never split a surrogate pair.
          if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1])) end--;
          show(stream, text.slice(start, end));
          start = end;
        }
      }
      queued = [];
      if (stick.current) target.scrollTop = target.scrollHeight;
    };
    const append = (stream: LogStream, text: string) => {
      const last = queued.at(-1);
      if (last?.stream === stream) last.text += text;
      else queued.push({ stream, text });
      queuedChars += text.length;
      if (queuedChars > MAX_SHOWN_CHARS) flush();
      else timer ||= setTimeout(flush, FLUSH_MS);
    };
    const show = (stream: LogStream, text: string) => {
      const last = target.lastElementChild as HTMLElement | null;
      const reuse = last?.dataset.stream === stream && Number(last.dataset.size) < PIECE_CHARS;
      const span = reuse ? last! : document.createElement("span");
      if (!reuse) {
        span.dataset.stream = stream;
        span.dataset.size = "0";
        span.className = stream;
        if (stream === "stderr") span.title = "stderr";
        target.append(span);
      }
      span.insertAdjacentHTML("beforeend", converters[stream].ansi_to_html(text));
      span.dataset.size = String(Number(span.dataset.size) + text.length);
      shown += text.length;
      while (shown > MAX_SHOWN_CHARS && target.childElementCount > 1) {
        const first = target.firstElementChild as HTMLElement;
        shown -= Number(first.dataset.size);
        first.remove();
        setTrimmed(true);
      }
    };
    const query = new URLSearchParams({ id: jobId, task });
    (async () => {
      const response = await api.openStream(`job/logs/stream?${query}`, null, controller.signal);
      if (!response.ok || response.body === null) {
        const body = await response.json().catch(() => null);
        throw new Error(body?.error ?? `the output stream answered ${response.status}`);
      }
      let ended = false;
      await readSse(response.body, (message) => {
        const event = decodeLogEvent(message);
        if (event?.type === "end") {
          ended = true;
          flush();
          setEnd({ status: event.status, exitCode: event.exitCode });
        } else if (event !== null) append(event.type, event.text);
      });
      if (!ended) throw new Error("the output stream ended before the task did");
    })().catch((error) => {
      if (!controller.signal.aborted) setProblem(failureMessage(error));
    });
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [api, jobId, task, attempt]);

  const onScroll = () => {
    const target = pre.current!;
    const atEnd = target.scrollTop + target.clientHeight >= target.scrollHeight - STICK_SLACK;
    stick.current = atEnd;
    setFollowing(atEnd);
  };
  const resume = () => {
    const target = pre.current!;
    stick.current = true;
    setFollowing(true);
    target.scrollTop = target.scrollHeight;
  };
  const download = async (stream: LogStream) => {
    try {
      const blob = await api.rawLog(jobId, task, stream);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${jobId}-${task}.${stream}.log`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      setProblem(failureMessage(error));
    }
  };

  return (
    <section class="output" aria-labelledby="output-title">
      <h2 id="output-title">Output of {task}</h2>
      <div class="output-bar">
        <span class="legend">
          <span class="stdout">stdout</span> <span class="stderr">stderr</span>
        </span>
        <span class="output-state" role="status" data-ended={end !== null}>
          {end ? `ended: ${end.status}, exit code ${end.exitCode}` : "following…"}
        </span>
        {!following && <button type="button" onClick={resume}>Scroll to end and follow</button>}
        <button type="button" onClick={() => download("stdout")}>Download stdout</button>
        <button type="button" onClick={() => download("stderr")}>Download stderr</button>
      </div>
      {trimmed && (
        <p class="hint" role="note">
          Only the latest output is shown; download the logs for all of it.
        </p>
      )}
      {problem && (
        <p class="error" role="alert">
          {problem} <button type="button" onClick={() => setAttempt((n) => n + 1)}>Retry</button>
        </p>
      )}
      <pre
        ref={pre}
        class="log"
        tabIndex={0}
        aria-label={`Output of ${task}`}
        aria-live="off"
        onScroll={onScroll}
      />
    </section>
  );
}
