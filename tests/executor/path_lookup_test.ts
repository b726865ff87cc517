import { assert, assertEquals } from "../assert.ts";
import { findOnPath, resolveProgram } from "../../src/executor/path_lookup.ts";
import { withTempDir } from "../temp_dir.ts";

const LINUX = Deno.build.os === "linux";

/** Makes `dir/a/tool` (not executable) and `dir/b/tool` (executable). */
async function tools(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/a`);
  await Deno.mkdir(`${dir}/b`);
  await Deno.writeTextFile(`${dir}/a/tool`, "not executable");
  await Deno.writeTextFile(`${dir}/b/tool`, "#!/bin/sh\n");
  await Deno.chmod(`${dir}/b/tool`, 0o755);
}

Deno.test({
  name: "path lookup: programs are looked up as sh does",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-path-", async (dir) => {
      await tools(dir);
      const env = { PATH: `${dir}/a:${dir}/b` };
      assertEquals(resolveProgram("tool", env, dir), `${dir}/b/tool`);
      assertEquals(resolveProgram("./tool", env, dir), "./tool");
      assertEquals(resolveProgram("missing", env, dir), null);
      assertEquals(resolveProgram("b/tool", { PATH: "" }, dir), "b/tool");
      // No PATH at all: sh's default directories.
      const sh = resolveProgram("sh", {}, dir);
      assert(sh === "/usr/bin/sh" || sh === "/bin/sh", `sh found at ${sh}`);
    }),
});

Deno.test({
  name: "path lookup: empty and relative PATH entries are looked at from the directory given",
  ignore: !LINUX,
  fn: () =>
    withTempDir("prunner-path-", async (dir) => {
      await tools(dir);
      assertEquals(findOnPath("tool", "a:b", dir), "b/tool");
      assertEquals(findOnPath("tool", "/nowhere::b", `${dir}/b`), "./tool");
      assertEquals(findOnPath("tool", "a", dir), null);
    }),
});
