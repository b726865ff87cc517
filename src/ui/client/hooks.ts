/**
 * Hooks the screens share: data loaded from the API and refreshed by live events, and a clock
 * for the durations of running jobs.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { UnauthorizedError } from "./api.ts";
import type { ServerEvent } from "../../client/events.ts";
import type { Subscribe } from "./live.ts";

/**
 * Subscribes to live events for as long as the component is shown; the latest `listener` is
 * always the one called.
 */
export function useLiveEvents(
  subscribe: Subscribe,
  listener: (event: ServerEvent) => void,
): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => subscribe((event) => latest.current(event)), [subscribe]);
}

/** The current time in milliseconds, updated every second while `ticking`. */
export function useNow(ticking: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!ticking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

/** A message for a failed request; a refused token needs none (the token screen shows it). */
export function failureMessage(error: unknown): string | null {
  if (error instanceof UnauthorizedError) return null;
  return error instanceof Error ? error.message : String(error);
}

/** Runs `task` at most once per `ms`, the last request winning (for refetch storms). */
export function useThrottled(task: () => void, ms: number): () => void {
  const latest = useRef(task);
  latest.current = task;
  const timer = useRef<number | null>(null);
  useEffect(() => () => {
    if (timer.current !== null) clearTimeout(timer.current);
  }, []);
  return useRef(() => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current();
    }, ms);
  }).current;
}
