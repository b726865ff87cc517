/**
 * Retention decisions, as pure logic: which finished jobs of a pipeline are removed.
 *
 * @module
 */
import type { PipelineDefinition } from "../definition/types.ts";

/** What retention looks at in a job. */
export interface RetentionCandidate {
  id: string;
  completed: boolean;
  created: number;
  /** When the job ended, epoch ms; `created` stands in when a completed job has none. */
  end: number | null;
}

/** A pipeline's retention settings. */
export type RetentionRules = Pick<PipelineDefinition, "retentionCount" | "retentionPeriodMs">;

/**
 * Whether retention applies to a pipeline at all: it has a setting, or it no longer exists
 * (`null`).
 */
export function hasRetention(rules: RetentionRules | null): boolean {
  return rules === null || rules.retentionCount !== null || rules.retentionPeriodMs !== null;
}

/**
 * Returns a predicate that, fed one pipeline's jobs newest first, tells which to remove:
 *
 * - jobs that are not completed (waiting or running) are never removed, nor counted;
 * - `retentionCount: N` keeps the newest N completed jobs;
 * - `retentionPeriodMs: D` removes completed jobs that ended more than D before `now`;
 * - with both, a job goes as soon as either rule removes it;
 * - `rules === null` (the pipeline no longer exists) removes every completed job.
 *
 * The predicate keeps count of the completed jobs it has seen, so it works on a stream as well
 * as with `Array.prototype.filter`.
 *
 * @example
 * ```ts
 * const expired = retentionFilter({ retentionCount: 10, retentionPeriodMs: null }, Date.now());
 * const ids = jobsNewestFirst.filter(expired).map((job) => job.id);
 * ```
 */
export function retentionFilter(
  rules: RetentionRules | null,
  now: number,
): (job: RetentionCandidate) => boolean {
  let kept = 0;
  return (job) => {
    if (!job.completed) return false;
    if (rules === null) return true;
    const { retentionCount, retentionPeriodMs } = rules;
    if (retentionPeriodMs !== null && now - (job.end ?? job.created) > retentionPeriodMs) {
      return true;
    }
    if (retentionCount !== null && kept >= retentionCount) return true;
    kept++;
    return false;
  };
}
