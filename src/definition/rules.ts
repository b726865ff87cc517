/**
 * Rules that span several fields of a pipeline: wait-list settings that contradict each other,
 * and the task graph (missing dependencies, cycles, reserved names).
 *
 * @module
 */
import { topologicalOrder } from "../engine/dag.ts";
import { ON_ERROR_TASK } from "../engine/task_graph.ts";
import { closest } from "./suggest.ts";
import type { PipelineDefinition, TaskDefinition } from "./types.ts";

/** A broken rule: the field it is reported at (of a task, if `task` is set). */
export interface RuleViolation {
  readonly task: string | null;
  readonly field: string | null;
  /** 0-based index into a list field, to point at the offending item. */
  readonly item: number | null;
  readonly problem: string;
}

/**
 * Checks a pipeline whose fields each have a valid type and range.
 *
 * @example
 * ```ts
 * checkPipelineRules({ ...pipeline, startDelayMs: 1000, queueLimit: 0 });
 * // [{ task: null, field: "start_delay", item: null, problem: "needs a wait list, …" }]
 * ```
 */
export function checkPipelineRules(pipeline: PipelineDefinition): RuleViolation[] {
  return [...queueViolations(pipeline), ...taskViolations(pipeline)];
}

function violation(field: string | null, problem: string, task: string | null = null) {
  return { task, field, item: null, problem };
}

function queueViolations(p: PipelineDefinition): RuleViolation[] {
  const found: RuleViolation[] = [];
  if (p.startDelayMs > 0 && p.queueLimit === 0) {
    found.push(violation(
      "start_delay",
      "needs a wait list, but queue_limit is 0: delayed jobs wait on it; " +
        "remove start_delay or set queue_limit to at least 1",
    ));
  }
  if (p.queueStrategy === "partitioned_replace") {
    if (p.queueLimit !== null) {
      found.push(violation(
        "queue_limit",
        "is not allowed with queue_strategy partitioned_replace; use queue_partition_limit instead",
      ));
    }
    if (p.queuePartitionLimit === null) {
      found.push(violation(
        "queue_strategy",
        "partitioned_replace needs queue_partition_limit (waiting jobs per partition, at least 1)",
      ));
    }
  } else if (p.queuePartitionLimit !== null) {
    found.push(violation(
      "queue_partition_limit",
      `is only allowed with queue_strategy partitioned_replace, not with ${p.queueStrategy}; ` +
        "use queue_limit instead",
    ));
  }
  return found;
}

/** Retry settings that would have no effect: most likely a mistake. */
function retryViolations(task: TaskDefinition): RuleViolation[] {
  const found: RuleViolation[] = [];
  if (task.retries === 0 && task.retryDelayMs > 0) {
    found.push(violation(
      "retry_delay",
      "has no effect without retries; set retries to at least 1 or remove retry_delay",
      task.name,
    ));
  }
  if (task.retryOnTimeout && task.retries === 0) {
    found.push(violation(
      "retry_on_timeout",
      "has no effect without retries; set retries to at least 1 or remove retry_on_timeout",
      task.name,
    ));
  } else if (task.retryOnTimeout && task.timeoutMs === null) {
    found.push(violation(
      "retry_on_timeout",
      "needs a timeout on the task (a pipeline timeout ends the job and is never retried); " +
        "set timeout or remove retry_on_timeout",
      task.name,
    ));
  }
  return found;
}

function taskViolations(p: PipelineDefinition): RuleViolation[] {
  const found: RuleViolation[] = [];
  const names = Object.keys(p.tasks);
  if (names.includes(ON_ERROR_TASK)) {
    found.push(violation(
      null,
      `the task name "${ON_ERROR_TASK}" is reserved for the pipeline's on_error handler; ` +
        "rename the task",
      ON_ERROR_TASK,
    ));
  }
  for (const task of Object.values(p.tasks)) {
    found.push(...retryViolations(task));
    task.dependsOn.forEach((dependency, item) => {
      if (names.includes(dependency)) return;
      const suggestion = closest(dependency, names);
      found.push({
        task: task.name,
        field: "depends_on",
        item,
        problem: suggestion === null
          ? `unknown task "${dependency}"; tasks of this pipeline: ${names.join(", ")}`
          : `unknown task "${dependency}", did you mean "${suggestion}"?`,
      });
    });
  }
  const order = topologicalOrder(Object.values(p.tasks));
  if (!order.ok) {
    const cycle = [...order.cycle, order.cycle[0]].join(" → ");
    found.push(violation("depends_on", `dependency cycle: ${cycle}`, order.cycle[0]));
  }
  return found;
}
