import { definitionsEqual, parseDefinitions } from "../../src/definition/mod.ts";
import { assert } from "../assert.ts";
import { FIXTURES } from "./support.ts";

const TEXT = Deno.readTextFileSync(new URL("all_fields.yml", FIXTURES));

function load(text = TEXT, file = "pipelines.yml") {
  return parseDefinitions(text, file);
}

Deno.test("definitions parsed from the same text are equal", () => {
  assert(definitionsEqual(load(), load()));
  assert(definitionsEqual(new Map(), new Map()));
});

Deno.test("the order of pipelines, tasks and env entries does not matter", () => {
  const reordered = `pipelines:
  b:
    env: {Y: "2", X: "1"}
    tasks: {t2: {}, t1: {}}
  a: {}
`;
  const original = `pipelines:
  a: {}
  b:
    env: {X: "1", Y: "2"}
    tasks: {t1: {}, t2: {}}
`;
  assert(definitionsEqual(load(original), load(reordered)));
});

Deno.test("a change in one nested field makes definitions differ", () => {
  const changes: [string, string][] = [
    ["- sleep 1", "- sleep 2"],
    ["TARGET: linux", "TARGET: darwin"],
    ["depends_on: [build]", "depends_on: []"],
    ["allow_failure: true", "allow_failure: false"],
    ["CHANNEL: ops", "CHANNEL: dev"],
    ["start_delay: 1m30s", "start_delay: 1m31s"],
    ["queue_limit: 5", "queue_limit: 6"],
    ["timeout: 1h", "timeout: 2h"],
    ["timeout: 10m", "timeout: 11m"],
    ["timeout: 5m", "timeout: 6m"],
    ["retries: 2", "retries: 3"],
    ["retry_delay: 30s", "retry_delay: 31s"],
    ["retry_on_timeout: true", "retry_on_timeout: false"],
    ["STAGE: production", "STAGE: production\n      EXTRA: x"],
  ];
  for (const [from, to] of changes) {
    assert(TEXT.includes(from), `fixture contains ${from}`);
    assert(!definitionsEqual(load(), load(TEXT.replace(from, to))), `${from} → ${to}`);
  }
});

Deno.test("the source path counts", () => {
  assert(!definitionsEqual(load(), load(TEXT, "other/pipelines.yml")));
});

Deno.test("an added or removed pipeline makes definitions differ", () => {
  const more = load(TEXT + "  another: {}\n");
  assert(!definitionsEqual(load(), more));
  assert(!definitionsEqual(more, load()));
});
