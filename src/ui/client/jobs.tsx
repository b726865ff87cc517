/**
 * The jobs screen: newest first, paged with the API's cursor, filtered by pipeline (on the
 * server) and status (by the server too), and kept current by live events.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import type { JobJson, PipelineStatusJson } from "../../client/json.ts";
import type { ScreenProps } from "./live.ts";
import { elapsed, formatTime, JOB_STATUSES, jobStatus } from "./format.ts";
import { failureMessage, useLiveEvents, useNow } from "./hooks.ts";
import { applyEvent } from "./live.ts";
import { routeHref } from "./route.ts";

/** Jobs per page. */
export const PAGE_SIZE = 50;

/** The jobs list of one pipeline (or all) and one status (or all). */
export function JobsScreen(props: ScreenProps & { pipeline: string; status: string }) {
  const { api, live, pipeline, status } = props;
  const [jobs, setJobs] = useState<JobJson[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [pipelines, setPipelines] = useState<PipelineStatusJson[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  /** The filters as query parameters: the server filters the pages. */
  const filters = { ...(pipeline ? { pipeline } : {}), ...(status ? { status } : {}) };

  const load = () => {
    const query = { limit: PAGE_SIZE, ...filters };
    api.jobs(query).then((page) => {
      setJobs(page.jobs);
      setNext(page.next);
      setError(null);
    }, (e) => setError(failureMessage(e)));
  };
  useEffect(load, [api, pipeline, status]);
  useEffect(() => {
    api.pipelines().then(setPipelines, (e) => setError(failureMessage(e)));
  }, [api]);
  useLiveEvents(live.subscribe, (event) => {
    if (event.type === "reload") return load();
    setJobs((current) => current === null ? current : applyEvent(current, event, pipeline));
  });

  const loadMore = async () => {
    if (next === undefined) return;
    setLoadingMore(true);
    try {
      const page = await api.jobs({ limit: PAGE_SIZE, before: next, ...filters });
      setJobs((current) => {
        const known = new Set((current ?? []).map((job) => job.id));
        return [...(current ?? []), ...page.jobs.filter((job) => !known.has(job.id))];
      });
      setNext(page.next);
    } catch (e) {
      setError(failureMessage(e));
    } finally {
      setLoadingMore(false);
    }
  };

  // Live events change states: a job that left the filtered state leaves the list.
  const shown = (jobs ?? []).filter((job) => status === "" || jobStatus(job) === status);
  const now = useNow(shown.some((job) => jobStatus(job) === "running"));
  const filter = (change: { pipeline?: string; status?: string }) => {
    location.hash = routeHref({ screen: "jobs", pipeline, status, ...change });
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Pipeline{" "}
          <select
            id="filter-pipeline"
            value={pipeline}
            onChange={(e) => filter({ pipeline: e.currentTarget.value })}
          >
            <option value="">all</option>
            {pipelines.map((p) => <option key={p.pipeline} value={p.pipeline}>{p.pipeline}
            </option>)}
            {pipeline !== "" && !pipelines.some((p) => p.pipeline === pipeline) && (
              <option value={pipeline}>{pipeline}</option>
            )}
          </select>
        </label>
        <label>
          Status{" "}
          <select
            id="filter-status"
            value={status}
            onChange={(e) => filter({ status: e.currentTarget.value })}
          >
            <option value="">all</option>
            {JOB_STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {jobs === null ? <p>Loading…</p> : (
        <table class="jobs">
          <thead>
            <tr>
              <th scope="col">Pipeline</th>
              <th scope="col">Status</th>
              <th scope="col">User</th>
              <th scope="col">Start</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => (
              <tr key={job.id} data-job={job.id}>
                <td>
                  <a href={routeHref({ screen: "job", id: job.id, task: null })}>{job.pipeline}</a>
                </td>
                <td>
                  <StatusBadge status={jobStatus(job)} />
                </td>
                <td>{job.user}</td>
                <td>{formatTime(job.start)}</td>
                <td>{elapsed(job.start, job.end, now)}</td>
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">No jobs{status ? ` with status ${status}` : ""}.</td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {next !== undefined && (
        <button type="button" onClick={loadMore} disabled={loadingMore}>Load older jobs</button>
      )}
    </section>
  );
}

/** A coloured job or task status. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{status}</span>;
}
