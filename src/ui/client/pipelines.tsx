/**
 * The pipelines screen: each pipeline with its running and waiting jobs, whether it accepts a
 * job now, and a form to start one with optional variables and queue partition.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { PipelineStatusJson } from "../../client/json.ts";
import type { ScreenProps } from "./live.ts";
import { parseVariables } from "./format.ts";
import { failureMessage, useLiveEvents, useThrottled } from "./hooks.ts";
import { routeHref } from "./route.ts";

/** Lists the pipelines and starts jobs. */
export function PipelinesScreen({ api, live }: ScreenProps) {
  const [pipelines, setPipelines] = useState<PipelineStatusJson[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api.pipelines().then((list) => {
      setPipelines(list);
      setError(null);
    }, (e) => setError(failureMessage(e)));
  const refresh = useThrottled(load, 300);
  useEffect(() => void load(), [api]);
  useLiveEvents(live.subscribe, (event) => {
    if (event.type !== "task_started" && event.type !== "task_finished") refresh();
  });

  return (
    <section aria-labelledby="pipelines-title">
      <h1 id="pipelines-title">Pipelines</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {pipelines === null
        ? <p>Loading…</p>
        : pipelines.length === 0
        ? <p>No pipelines are defined.</p>
        : (
          <table class="pipelines">
            <thead>
              <tr>
                <th scope="col">Pipeline</th>
                <th scope="col" class="num">Running</th>
                <th scope="col" class="num">Waiting</th>
                <th scope="col">Accepts jobs</th>
                <th scope="col">Start a job</th>
              </tr>
            </thead>
            <tbody>
              {pipelines.map((pipeline) => (
                <PipelineRow key={pipeline.pipeline} pipeline={pipeline} api={api} live={live} />
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}

function PipelineRow({ pipeline, api }: ScreenProps & { pipeline: PipelineStatusJson }) {
  const name = pipeline.pipeline;
  const [variables, setVariables] = useState("");
  const [partition, setPartition] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = `start-${name.replace(/[^\w-]/g, "_")}`;

  const start = async (event: Event) => {
    event.preventDefault();
    const parsed = parseVariables(variables);
    if (!parsed.ok) return setProblem(parsed.error);
    setProblem(null);
    setBusy(true);
    try {
      const jobId = await api.schedule(name, parsed.variables, partition.trim());
      location.hash = routeHref({ screen: "job", id: jobId, task: null });
    } catch (error) {
      setProblem(failureMessage(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr>
      <th scope="row">
        <a href={routeHref({ screen: "jobs", pipeline: name, status: "" })}>{name}</a>
      </th>
      <td class="num">{pipeline.runningJobs}</td>
      <td class="num">{pipeline.waitingJobs}</td>
      <td>
        <span class={`badge ${pipeline.schedulable ? "badge-yes" : "badge-no"}`}>
          {pipeline.schedulable ? "yes" : "no (queue full)"}
        </span>
      </td>
      <td>
        <form class="start" onSubmit={start}>
          <button type="submit" disabled={busy}>Start {name}</button>
          <details>
            <summary>Variables and partition</summary>
            <label for={`${id}-vars`}>Variables (JSON object)</label>
            <textarea
              id={`${id}-vars`}
              rows={4}
              spellcheck={false}
              placeholder='{"name": "value"}'
              value={variables}
              aria-invalid={problem !== null && variables.trim() !== ""}
              onInput={(e) => setVariables(e.currentTarget.value)}
            />
            <label for={`${id}-partition`}>Queue partition</label>
            <input
              id={`${id}-partition`}
              value={partition}
              onInput={(e) => setPartition(e.currentTarget.value)}
            />
          </details>
          {problem && <p class="error" role="alert">{problem}</p>}
        </form>
      </td>
    </tr>
  );
}
