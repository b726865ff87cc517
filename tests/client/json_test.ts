/**
 * The client's plain JSON types (src/client/json.ts, which the web UI uses too) against the
 * server's schemas: a field added, removed, renamed or retyped on one side fails the type check.
 */
import type { z } from "@hono/zod-openapi";
import type {
  ClusterJson,
  ClusterNodeJson,
  DroppedOutputJson,
  JobJson,
  JobsPageJson,
  LogsJson,
  PipelineJson,
  PipelineStatusJson,
  TaskJson,
} from "../../src/client/json.ts";
import type {
  ClusterNodeSchema,
  ClusterResponseSchema,
  JobSchema,
  LogsResponseSchema,
  PipelineSchema,
  PipelinesJobsResponseSchema,
  PipelineStatusSchema,
  StreamLossSchema,
  TaskSchema,
} from "../../src/server/schemas.ts";
import { assert } from "../assert.ts";

/** True when `A` and `B` are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/**
 * True when `A` and `B` have the same fields, each optional on both sides or on neither
 * (`Required` makes an optional field that only one side has show).
 */
type Exact<A, B> = Same<A, B> extends true ? Same<Required<A>, Required<B>> : false;

Deno.test("client JSON types: the same fields as the server's schemas", () => {
  const checks: true[] = [
    true satisfies Exact<TaskJson, z.infer<typeof TaskSchema>>,
    true satisfies Exact<
      NonNullable<TaskJson["droppedOutput"]>,
      NonNullable<z.infer<typeof TaskSchema>["droppedOutput"]>
    >,
    true satisfies Exact<DroppedOutputJson, z.infer<typeof StreamLossSchema>>,
    true satisfies Exact<JobJson, z.infer<typeof JobSchema>>,
    true satisfies Exact<PipelineJson, z.infer<typeof PipelineSchema>>,
    true satisfies Exact<PipelineStatusJson, z.infer<typeof PipelineStatusSchema>>,
    true satisfies Exact<JobsPageJson, z.infer<typeof PipelinesJobsResponseSchema>>,
    true satisfies Exact<LogsJson, z.infer<typeof LogsResponseSchema>>,
    true satisfies Exact<ClusterNodeJson, z.infer<typeof ClusterNodeSchema>>,
    true satisfies Exact<ClusterJson, z.infer<typeof ClusterResponseSchema>>,
  ];
  assert(checks.length === 10);
});
