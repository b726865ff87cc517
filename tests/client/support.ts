/** Fixtures for the tests of the API client and the web UI that reads the same JSON. */
import type { JobJson } from "../../src/client/json.ts";

/** A job as the API shows it: waiting, without tasks, unless `fields` say otherwise. */
export function jobJson(id: string, fields: Partial<JobJson> = {}): JobJson {
  return {
    id,
    pipeline: "build",
    tasks: [],
    completed: false,
    canceled: false,
    errored: false,
    created: "2026-11-30T10:00:00Z",
    user: "j.doe",
    ...fields,
  };
}
