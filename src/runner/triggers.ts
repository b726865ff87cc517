/**
 * Triggers: starts the jobs of the pipelines' `schedule` entries when they tick. The engine's
 * `decideTicks` decides which ticks start a job; this keeps each trigger's newest settled tick
 * and one timer for the next tick of any trigger. A triggered job is scheduled like any other
 * (wait list, concurrency, start delay apply), as user `schedule`, with the trigger and its
 * planned time in `job.trigger`; the store writes that tick in the job's own commit, which is
 * where a restart reads the ticks from. A tick whose job is refused is stored on its own.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Definitions, TriggerDefinition } from "../definition/types.ts";
import { type Job, triggerId } from "../engine/job.ts";
import { decideTicks } from "../engine/triggers.ts";
import { TickTakenError } from "../errors.ts";
import type { TriggerTick } from "../store/types.ts";
import type { ScheduleRequest } from "./api.ts";

/** What triggers act through. */
export interface TriggerOptions {
  /** Schedules a job, as the API does. */
  readonly schedule: (request: ScheduleRequest) => Promise<Job>;
  /** The clock, epoch ms. */
  readonly now: () => number;
  /**
   * Stores a tick whose job was refused (a full wait list, a failing store), so that a restart
   * does not run it as a missed tick.
   */
  readonly saveTick: (tick: TriggerTick) => Promise<void>;
}

/** The triggers of the current definitions. */
export interface Triggers {
  /**
   * Starts ticking: `stored` are the newest ticks of the triggers' stored jobs. A trigger's
   * ticks after its stored one and up to now are due at once, and its `catch_up` decides which
   * of them start a job; a trigger without a stored tick counts from now.
   */
  start(definitions: Definitions, stored: readonly TriggerTick[]): void;
  /**
   * The definitions changed (reload): new triggers count from now, removed ones stop and are
   * forgotten (until the next start, which reads their stored tick again).
   */
  update(definitions: Definitions): void;
  /** Starts the jobs of the ticks due now and arms the timer for the next tick. */
  check(): void;
  /** When the pipeline's next tick is, epoch ms; `null` when it has no (more) ticks. */
  nextRun(pipeline: string): number | null;
  /** Stops the timer; no tick starts a job after this (shutdown). */
  stop(): void;
}

/** Longest delay `setTimeout` takes; a later tick is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const log = getLogger(["prunner", "runner"]);

/** Where a trigger's ticks are kept: its pipeline and id. */
function tickKey(pipeline: string, id: string): string {
  return JSON.stringify([pipeline, id]);
}

/**
 * Creates the triggers of a runner; nothing ticks before `start`.
 *
 * @example
 * ```ts
 * const triggers = createTriggers({ schedule: runner.schedule, now: Date.now });
 * triggers.start(definitions, await store.triggerTicks());
 * ```
 */
export function createTriggers(options: TriggerOptions): Triggers {
  const { now } = options;
  /** Newest settled tick per trigger. */
  const last = new Map<string, number>();
  /** Next tick per pipeline, as decided by the last check. */
  const next = new Map<string, number | null>();
  let definitions: Definitions = new Map();
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const fire = (pipeline: string, trigger: TriggerDefinition, planned: number): void => {
    const { cron, timezone } = trigger;
    const variables = trigger.variables === null ? null : structuredClone(trigger.variables);
    options.schedule({
      pipeline,
      variables: variables as Record<string, unknown> | null,
      user: "schedule",
      queuePartition: null,
      trigger: { cron, timezone, planned },
    }).then(
      (job) =>
        log.info("Trigger {trigger} of {pipeline} started job {jobId} for {planned}", {
          trigger: triggerId(trigger),
          pipeline,
          jobId: job.id,
          planned: new Date(planned).toISOString(),
        }),
      (error) => {
        if (error instanceof TickTakenError) {
          log.debug("Trigger {trigger} of {pipeline}: {error}", {
            trigger: triggerId(trigger),
            pipeline,
            error,
          });
          return;
        }
        log.warn("Trigger {trigger} of {pipeline} could not start a job for {planned}: {error}", {
          trigger: triggerId(trigger),
          pipeline,
          planned: new Date(planned).toISOString(),
          error,
        });
        return options.saveTick({ pipeline, trigger: triggerId(trigger), planned }).catch(
          (error) =>
            log.warn(
              "The refused tick {planned} of trigger {trigger} of {pipeline} is not stored " +
                "(after a restart it counts as missed): {error}",
              {
                trigger: triggerId(trigger),
                pipeline,
                planned: new Date(planned).toISOString(),
                error,
              },
            ),
        );
      },
    );
  };

  const check = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (!running) return;
    const at = now();
    let wakeAt: number | null = null;
    next.clear();
    // Only the current triggers are kept: one removed by a reload counts from now if it returns.
    const settled = new Map(last);
    last.clear();
    for (const definition of definitions.values()) {
      let pipelineNext: number | null = null;
      for (const trigger of definition.schedule) {
        const key = tickKey(definition.name, triggerId(trigger));
        const decision = decideTicks(trigger, settled.get(key) ?? null, at);
        last.set(key, decision.last);
        for (const planned of decision.fire) fire(definition.name, trigger, planned);
        if (decision.wakeAt === null) continue;
        pipelineNext = Math.min(pipelineNext ?? Infinity, decision.wakeAt);
      }
      if (definition.schedule.length > 0) next.set(definition.name, pipelineNext);
      if (pipelineNext !== null) wakeAt = Math.min(wakeAt ?? Infinity, pipelineNext);
    }
    if (wakeAt !== null) {
      timer = setTimeout(check, Math.min(Math.max(0, wakeAt - at), MAX_TIMER_MS));
    }
  };

  return {
    start(initial, stored) {
      for (const tick of stored) {
        const key = tickKey(tick.pipeline, tick.trigger);
        last.set(key, Math.max(last.get(key) ?? -Infinity, tick.planned));
      }
      definitions = initial;
      running = true;
      check();
    },

    update(changed) {
      definitions = changed;
      check();
    },

    check,

    nextRun: (pipeline) => next.get(pipeline) ?? null,

    stop() {
      running = false;
      clearTimeout(timer);
      timer = undefined;
      next.clear();
    },
  };
}
