/**
 * The job screen: the task graph coloured by status, the tasks with times and exit codes, the
 * variables, `lastError`, canceling and running again, and the output of the chosen task.
 *
 * @module
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { JobJson, TaskJson } from "../../client/json.ts";
import type { ScreenProps } from "./live.ts";
import { elapsed, formatTime, jobStatus } from "./format.ts";
import { layoutTasks } from "./graph.ts";
import { failureMessage, useLiveEvents, useNow } from "./hooks.ts";
import { StatusBadge } from "./jobs.tsx";
import { TaskOutput } from "./output.tsx";
import { routeHref } from "./route.ts";

/** One job; `task` names the task whose output is shown. */
export function JobScreen(props: ScreenProps & { id: string; task: string | null }) {
  const { api, live, id, task } = props;
  const [job, setJob] = useState<JobJson | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /**
   * How many live events of this job were applied. Events arrive in order on one stream, but a
   * loaded job on another connection: one requested before an event was applied may be older
   * than it (e.g. "running" after "done"): then only its variables, which events leave out,
   * are taken, and later events bring the rest.
   */
  const applied = useRef(0);
  const load = () => {
    const before = applied.current;
    api.job(id).then((loaded) => {
      const stale = applied.current !== before;
      setJob((current) => stale && current ? { ...current, variables: loaded.variables } : loaded);
      setError(null);
    }, (e) => setError(failureMessage(e)));
  };
  useEffect(() => {
    setJob(null);
    load();
  }, [api, id]);
  useLiveEvents(live.subscribe, (event) => {
    if (event.type === "reload") return load();
    if (event.type === "jobs_removed" && event.ids.includes(id)) {
      return setError("This job was removed by retention.");
    }
    if ("job" in event && event.job.id === id) {
      applied.current++;
      // Events leave the variables out; the job's variables never change.
      setJob((current) => ({
        ...event.job,
        ...(current?.variables ? { variables: current.variables } : {}),
      }));
    }
  });

  const status = job ? jobStatus(job) : null;
  const now = useNow(status === "running");

  const act = async (action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } catch (e) {
      setError(failureMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const cancel = () => act(() => api.cancel(id));
  const runAgain = () =>
    act(async () => {
      const jobId = await api.schedule(job!.pipeline, job!.variables ?? null, "");
      location.hash = routeHref({ screen: "job", id: jobId, task: null });
    });

  if (job === null) {
    return (
      <section>
        <h1>Job</h1>
        {error ? <p class="error" role="alert">{error}</p> : <p>Loading…</p>}
      </section>
    );
  }
  return (
    <section aria-labelledby="job-title">
      <h1 id="job-title">
        <a href={routeHref({ screen: "jobs", pipeline: job.pipeline, status: "" })}>
          {job.pipeline}
        </a>{" "}
        <StatusBadge status={status!} />
      </h1>
      <dl class="facts">
        <dt>Job</dt>
        <dd>
          <code>{job.id}</code>
        </dd>
        <dt>User</dt>
        <dd>{job.user}</dd>
        <dt>Created</dt>
        <dd>{formatTime(job.created)}</dd>
        <dt>Start</dt>
        <dd>{formatTime(job.start) || "not yet"}</dd>
        <dt>End</dt>
        <dd>{formatTime(job.end) || "not yet"}</dd>
        <dt>Duration</dt>
        <dd>{elapsed(job.start, job.end, now)}</dd>
      </dl>
      <div class="actions">
        {!job.completed && (
          <button type="button" class="danger" onClick={cancel} disabled={busy}>Cancel job</button>
        )}
        <button type="button" onClick={runAgain} disabled={busy}>Run again</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {job.lastError && (
        <p class="error last-error">
          <strong>Last error:</strong> {job.lastError}
        </p>
      )}
      <h2>Tasks</h2>
      <TaskGraph job={job} selected={task} now={now} />
      <TaskTable job={job} selected={task} now={now} />
      {task !== null && job.tasks.some((t) => t.name === task) && (
        <TaskOutput key={`${id}/${task}`} api={api} jobId={id} task={task} />
      )}
      <h2>Variables</h2>
      {job.variables && Object.keys(job.variables).length > 0
        ? <pre class="variables">{JSON.stringify(job.variables, null, 2)}</pre>
        : <p>None.</p>}
    </section>
  );
}

/** Shortens text to fit a graph box; the box's title has all of it. */
function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

function taskSummary(task: TaskJson, now: number): string {
  const parts: string[] = [task.status];
  if (task.attempt) parts.push(`attempt ${task.attempt}`);
  if (task.retryAt) parts.push(`retry at ${formatTime(task.retryAt).slice(11)}`);
  const time = elapsed(task.start, task.end, now);
  if (time) parts.push(time);
  if (task.end && !task.skipped) parts.push(`exit ${task.exitCode}`);
  return parts.join(" · ");
}

function TaskGraph({ job, selected, now }: { job: JobJson; selected: string | null; now: number }) {
  const shape = job.tasks.map((t) => `${t.name}<${(t.dependsOn ?? []).join(",")}`).join(";");
  const layout = useMemo(() => layoutTasks(job.tasks), [shape]);
  const byName = new Map(job.tasks.map((t) => [t.name, t]));
  return (
    <div class="graph" role="group" aria-label="Task graph">
      <svg
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="8"
            markerHeight="8"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
          </marker>
        </defs>
        {layout.edges.map((edge) => (
          <polyline
            key={`${edge.from}->${edge.to}`}
            class="edge"
            points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")}
            marker-end="url(#arrow)"
          />
        ))}
        {layout.nodes.map((node) => {
          const task = byName.get(node.name)!;
          return (
            <a
              key={node.name}
              href={routeHref({ screen: "job", id: job.id, task: node.name })}
              class={`node status-${task.status}${selected === node.name ? " selected" : ""}`}
              aria-label={`${node.name}: ${taskSummary(task, now)}`}
            >
              <title>{`${node.name}: ${taskSummary(task, now)}`}</title>
              <rect x={node.x} y={node.y} width={node.width} height={node.height} rx="6" />
              <text x={node.x + 10} y={node.y + 24} class="node-name">{clip(node.name, 22)}</text>
              <text x={node.x + 10} y={node.y + 46} class="node-info">
                {clip(taskSummary(task, now), 28)}
              </text>
            </a>
          );
        })}
      </svg>
    </div>
  );
}

function TaskTable({ job, selected, now }: { job: JobJson; selected: string | null; now: number }) {
  return (
    <table class="tasks">
      <thead>
        <tr>
          <th scope="col">Task</th>
          <th scope="col">Status</th>
          <th scope="col">Start</th>
          <th scope="col">Duration</th>
          <th scope="col" class="num">Exit code</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {job.tasks.map((task) => (
          <tr key={task.name} class={selected === task.name ? "selected" : undefined}>
            <th scope="row">
              <a
                href={routeHref({ screen: "job", id: job.id, task: task.name })}
                aria-current={selected === task.name ? "true" : undefined}
              >
                {task.name}
              </a>
            </th>
            <td>
              <StatusBadge status={task.status} />
              {task.attempt && <span class="hint">attempt {task.attempt}</span>}
              {task.retryAt && <span class="hint">retry at {formatTime(task.retryAt)}</span>}
            </td>
            <td>{formatTime(task.start)}</td>
            <td>{elapsed(task.start, task.end, now)}</td>
            <td class="num">{task.end && !task.skipped ? task.exitCode : ""}</td>
            <td>
              {task.error ?? ""}
              {Object.entries(task.droppedOutput ?? {}).map(([stream, loss]) => (
                <p key={stream} class="error">
                  {loss.bytes} bytes of {stream} missing from the log: {loss.reason}
                </p>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
