import { parse } from "yaml";
import { loadOrCreateJwtSecret } from "../../src/config/dynamic_config.ts";
import { ConfigError } from "../../src/config/error.ts";
import { PrunnerError } from "../../src/errors.ts";
import { assert, assertEquals, assertMatch, assertNotEquals, assertRejects } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir("prunner-config-", fn);
}

function decodeBase64Url(text: string): Uint8Array {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(
    atob(base64 + "=".repeat((4 - base64.length % 4) % 4)),
    (c) => c.charCodeAt(0),
  );
}

Deno.test("loadOrCreateJwtSecret: a given secret wins and the file is not touched", async () => {
  await withDir(async (dir) => {
    const configPath = `${dir}/.prunner.yml`;
    const result = await loadOrCreateJwtSecret({ configPath, jwtSecret: "given-secret-0123456" });
    assertEquals(result, { secret: "given-secret-0123456", source: "flag-or-env" });
    await assertRejects(() => Deno.stat(configPath), Deno.errors.NotFound);
  });
});

Deno.test("loadOrCreateJwtSecret: reads jwt_secret from the config file", async () => {
  await withDir(async (dir) => {
    const configPath = `${dir}/.prunner.yml`;
    await Deno.writeTextFile(configPath, "# mine\njwt_secret: from-file-0123456789\n");
    const result = await loadOrCreateJwtSecret({ configPath, jwtSecret: null });
    assertEquals(result, { secret: "from-file-0123456789", source: "config-file" });
    assertEquals(
      await Deno.readTextFile(configPath),
      "# mine\njwt_secret: from-file-0123456789\n",
    );
  });
});

Deno.test("loadOrCreateJwtSecret: generates a 32-byte secret into a new 0600 file", async () => {
  await withDir(async (dir) => {
    const configPath = `${dir}/.prunner.yml`;
    const first = await loadOrCreateJwtSecret({ configPath, jwtSecret: null });
    assertEquals(first.source, "generated");
    assertMatch(first.secret, /^[A-Za-z0-9_-]{43}$/);
    const bytes = decodeBase64Url(first.secret);
    assertEquals(bytes.length, 32);
    assert(new Set(bytes).size > 8, "random bytes, not a constant");
    assertEquals(parse(await Deno.readTextFile(configPath)), { jwt_secret: first.secret });
    if (Deno.build.os !== "windows") {
      assertEquals((await Deno.stat(configPath)).mode! & 0o777, 0o600);
    }
    const again = await loadOrCreateJwtSecret({ configPath, jwtSecret: null });
    assertEquals(again, { secret: first.secret, source: "config-file" });

    const other = await loadOrCreateJwtSecret({ configPath: `${dir}/b.yml`, jwtSecret: null });
    assertNotEquals(other.secret, first.secret);
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).length, 2, "no temporary files left");
  });
});

Deno.test("loadOrCreateJwtSecret: adds a missing jwt_secret and keeps other keys", async () => {
  await withDir(async (dir) => {
    for (
      const content of ["# comment\nother: keep\nlist: [1, 2]\n", "jwt_secret:\nother: keep\n"]
    ) {
      const configPath = `${dir}/.prunner.yml`;
      await Deno.writeTextFile(configPath, content, { mode: 0o644 });
      const result = await loadOrCreateJwtSecret({ configPath, jwtSecret: null });
      assertEquals(result.source, "generated");
      const text = await Deno.readTextFile(configPath);
      const data = parse(text);
      assertEquals(data.other, "keep");
      assertEquals(data.jwt_secret, result.secret);
      if (content.startsWith("#")) {
        assertEquals(data.list, [1, 2]);
        assertMatch(text, /^# comment\n/);
      }
      if (Deno.build.os !== "windows") {
        assertEquals((await Deno.stat(configPath)).mode! & 0o777, 0o600);
      }
    }
  });
});

Deno.test("loadOrCreateJwtSecret: an empty file gets a secret", async () => {
  await withDir(async (dir) => {
    const configPath = `${dir}/.prunner.yml`;
    await Deno.writeTextFile(configPath, "");
    const result = await loadOrCreateJwtSecret({ configPath, jwtSecret: null });
    assertEquals(result.source, "generated");
    assertEquals(parse(await Deno.readTextFile(configPath)), { jwt_secret: result.secret });
  });
});

Deno.test("loadOrCreateJwtSecret: malformed files are errors naming file and line", async () => {
  const cases: [string, RegExp][] = [
    ["other: 1\njwt_secret: [a, b\n", /\.prunner\.yml:\d+: invalid YAML in the config file/],
    ["other: 1\njwt_secret: 12345678901234567\n", /\.prunner\.yml:2: jwt_secret must be a string/],
    ["jwt_secret: {a: b}\n", /\.prunner\.yml:1: jwt_secret must be a string/],
    ["\n\njwt_secret: tooshort\n", /\.prunner\.yml:3: jwt_secret must be at least 16 .* got 8/],
    ["- a\n- b\n", /\.prunner\.yml:1: the config file must be a mapping/],
  ];
  await withDir(async (dir) => {
    const configPath = `${dir}/.prunner.yml`;
    for (const [content, expected] of cases) {
      await Deno.writeTextFile(configPath, content);
      const error = await assertRejects(
        () => loadOrCreateJwtSecret({ configPath, jwtSecret: null }),
        ConfigError,
      );
      assert(error instanceof PrunnerError);
      assertMatch(error.message, expected);
      assert(error.message.startsWith(configPath), error.message);
      assertEquals(await Deno.readTextFile(configPath), content, "a malformed file is left alone");
    }
  });
});

Deno.test("loadOrCreateJwtSecret: an unwritable location is an error naming the file", async () => {
  await withDir(async (dir) => {
    const configPath = `${dir}/missing-dir/.prunner.yml`;
    const error = await assertRejects(
      () => loadOrCreateJwtSecret({ configPath, jwtSecret: null }),
      ConfigError,
    );
    assertMatch(error.message, /missing-dir\/\.prunner\.yml: cannot write the config file/);
  });
});
