import { DefinitionError, findDefinitionFiles, loadDefinitions } from "../../src/definition/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { FIXTURES } from "./support.ts";

const PATTERN = "**/pipelines.{yml,yaml}";

function pipeline(name: string): string {
  return `pipelines:\n  ${name}:\n    tasks:\n      run:\n        script: [echo ${name}]\n`;
}

function pathOf(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/** Writes `files` (relative path → content) below a new temporary directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "prunner-definitions-" });
  for (const [path, content] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
  return root;
}

Deno.test("the loader finds nested .yml and .yaml files, sorted, following symlinks", async () => {
  const root = await tree({
    "project/pipelines.yml": pipeline("top"),
    "project/b/pipelines.yaml": pipeline("b_yaml"),
    "project/a/deeper/pipelines.yml": pipeline("deep"),
    "project/a/other.yml": "not: [a pipeline file",
    "project/node_modules/pkg/pipelines.yml": "invalid: [",
    "project/.git/pipelines.yml": "invalid: [",
    "project/.prunner/pipelines.yml": "invalid: [",
    "project/.config/pipelines.yml": pipeline("hidden_dir"),
    "shared/pipelines.yml": pipeline("linked"),
  });
  try {
    await Deno.symlink(`${root}/shared`, `${root}/project/link`);
    await Deno.symlink(".", `${root}/project/a/loop`);
    const path = `${root}/project`;
    const { definitions, files } = await loadDefinitions({ path, pattern: PATTERN });
    assertEquals(files, [
      `${path}/.config/pipelines.yml`,
      `${path}/a/deeper/pipelines.yml`,
      `${path}/b/pipelines.yaml`,
      `${path}/link/pipelines.yml`,
      `${path}/pipelines.yml`,
    ]);
    assertEquals([...definitions.keys()], ["hidden_dir", "deep", "b_yaml", "linked", "top"]);
    assertEquals(definitions.get("linked")!.sourcePath, `${path}/link/pipelines.yml`);
    assertEquals(definitions.get("b_yaml")!.sourcePath, `${path}/b/pipelines.yaml`);
    assertEquals(await findDefinitionFiles({ path: `${path}/`, pattern: "*.yml" }), [
      `${path}/pipelines.yml`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("no matching files means no pipelines", async () => {
  const root = await tree({ "other.yml": pipeline("ignored") });
  try {
    const result = await loadDefinitions({ path: root, pattern: PATTERN });
    assertEquals(result.files, []);
    assertEquals(result.definitions.size, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a path that is not a directory is an error naming it", async () => {
  const root = await tree({ "pipelines.yml": pipeline("a") });
  try {
    await assertRejects(
      () => loadDefinitions({ path: `${root}/missing`, pattern: PATTERN }),
      DefinitionError,
      `${root}/missing: the pipeline directory does not exist`,
    );
    await assertRejects(
      () => loadDefinitions({ path: `${root}/pipelines.yml`, pattern: PATTERN }),
      DefinitionError,
      `${root}/pipelines.yml: the pipeline path is not a directory`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a pipeline declared in two files names both files", async () => {
  // Not named pipelines.yml, so that a prunner started in the repository does not load them.
  const path = pathOf(new URL("duplicate", FIXTURES));
  const error = await assertRejects(
    () => loadDefinitions({ path, pattern: "**/*.{yml,yaml}" }),
    DefinitionError,
  );
  assertEquals(
    error.message,
    `${path}/two/second.yaml:6: pipeline "deploy": already declared in ${path}/one/first.yml:6; pipeline names must be unique`,
  );
  assertEquals(error.issues[0].pipeline, "deploy");
  assertEquals(error.issues[0].line, 6);
});

Deno.test("problems in several files are reported together", async () => {
  const root = await tree({
    "a/pipelines.yml": "pipelines:\n  a:\n    concurrency: 0\n",
    "b/pipelines.yml": "pipelines:\n  b:\n    queue_limit: -1\n",
    "c/pipelines.yml": pipeline("fine"),
  });
  try {
    const error = await assertRejects(
      () => loadDefinitions({ path: root, pattern: PATTERN }),
      DefinitionError,
    );
    assertEquals(error.message.split("\n"), [
      `${root}/a/pipelines.yml:3: pipeline "a", field "concurrency": must be an integer ≥ 1, got 0`,
      `${root}/b/pipelines.yml:3: pipeline "b", field "queue_limit": must be an integer ≥ 0, got -1`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the examples load without error", async () => {
  const path = pathOf(new URL("../../examples", import.meta.url));
  const { definitions, files } = await loadDefinitions({ path, pattern: PATTERN });
  assertEquals(files, [`${path}/pipelines.yml`]);
  const get = (name: string) => {
    const definition = definitions.get(name);
    assert(definition !== undefined, `examples define ${name}`);
    return definition;
  };
  assertEquals(Object.keys(get("parallel").tasks).length, 3);
  assertEquals(get("build_and_publish").tasks.build.dependsOn, ["lint", "test"]);
  assertEquals(get("limited").concurrency, 2);
  assertEquals(get("limited").queueLimit, 3);
  assertEquals(get("exclusive").queueLimit, 0);
  assertEquals(get("render_latest").queueStrategy, "replace");
  assertEquals(get("debounced").startDelayMs, 3000);
  assertEquals(get("nightly_cleanup").schedule.map((t) => t.catchUp), ["latest", "none"]);
  assertEquals(get("import_per_site").queueStrategy, "partitioned_replace");
  assertEquals(get("import_per_site").queuePartitionLimit, 1);
  assertEquals(get("environment").env.RETRIES, "3");
  assertEquals(get("keep_going").continueRunningTasksAfterFailure, true);
  assertEquals(get("keep_going").tasks.flaky.allowFailure, true);
  assertEquals(get("cleanup").retentionCount, 10);
  assertEquals(get("cleanup").retentionPeriodMs, 48 * 3_600_000);
  assert(get("notify_on_error").onError!.script[0].includes("{{ .failedTaskName }}"));
  assertEquals(get("with_timeouts").timeoutMs, 3_600_000);
  assertEquals(get("with_timeouts").tasks.hangs.timeoutMs, 3000);
  assertEquals(get("with_timeouts").onError!.timeoutMs, 60_000);
  const download = get("retry_flaky").tasks.download;
  assertEquals([download.retries, download.retryDelayMs, download.retryOnTimeout], [3, 2000, true]);
});

Deno.test("the cluster example's pipelines load, and only under their own name", async () => {
  const path = pathOf(new URL("../../examples/cluster", import.meta.url));
  const { files } = await loadDefinitions({ path, pattern: PATTERN });
  assertEquals(files, [], "not picked up by `deno task start`, which serves examples/");
  const { definitions } = await loadDefinitions({ path, pattern: "pipelines.cluster.yml" });
  assertEquals([...definitions.keys()].sort(), ["every_minute", "import", "report"]);
  assertEquals(definitions.get("import")!.queueStrategy, "replace");
  assertEquals(definitions.get("report")!.queueLimit, 5);
  assertEquals(definitions.get("every_minute")!.schedule.length, 1);
});
