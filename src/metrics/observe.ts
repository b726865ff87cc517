/**
 * Feeding the metrics from the runner's events, so the runner needs no metric calls of its own.
 *
 * @module
 */
import type { EventHub, RunnerEvent } from "../runner/events.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Subscribes the metrics to the runner's events (this node's own, not those of other nodes in a
 * cluster); returns the function that unsubscribes.
 *
 * @example
 * ```ts
 * const stop = observeRunner(metrics, runner.events);
 * ```
 */
export function observeRunner(metrics: Metrics, events: EventHub): () => void {
  // Each node counts what it did itself.
  return events.subscribe((event: RunnerEvent) => {
    switch (event.type) {
      case "job_scheduled":
        return metrics.jobScheduled(event.job);
      case "job_started":
        return metrics.jobStarted(event.job);
      case "job_completed":
        return metrics.jobCompleted(event.job);
      case "job_refused":
        return metrics.jobRefused(event.pipeline, event.reason);
      case "task_timed_out":
        return metrics.taskTimedOut(event.job, event.by);
      case "task_finished": {
        const { job, task } = event;
        // A failed attempt that will run again is back to waiting.
        if (task.status === "waiting") {
          metrics.taskRetried(job);
          return metrics.taskFinished(job, task, "error");
        }
        if (task.status === "done" || task.status === "error" || task.status === "canceled") {
          return metrics.taskFinished(job, task, task.status);
        }
      }
    }
  }, { remote: false });
}
