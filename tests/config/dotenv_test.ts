import { loadEnvFiles, parseEnvFile } from "../../src/config/dotenv.ts";
import { ConfigError } from "../../src/config/error.ts";
import { assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir("prunner-dotenv-", fn);
}

Deno.test("parseEnvFile: assignments, export, comments, quotes and multi-line values", () => {
  const text = [
    "# a comment",
    "",
    "PLAIN=value",
    "export EXPORTED=yes",
    "  SPACED = padded  ",
    "EMPTY=",
    "INLINE=before # a comment",
    "SINGLE='single $quoted'",
    'DOUBLE="a\\nb"',
    'MULTI="first',
    "second",
    'third"',
    "YAML_STYLE: colon",
    "dotted.key-name=ok",
    "PLAIN=overridden",
  ].join("\n");
  assertEquals(parseEnvFile(text, ".env"), {
    PLAIN: "overridden",
    EXPORTED: "yes",
    SPACED: "padded",
    EMPTY: "",
    INLINE: "before",
    SINGLE: "single $quoted",
    DOUBLE: "a\nb",
    MULTI: "first\nsecond\nthird",
    YAML_STYLE: "colon",
    "dotted.key-name": "ok",
  });
});

Deno.test("parseEnvFile: CRLF line endings and a BOM", () => {
  assertEquals(parseEnvFile("\uFEFFA=1\r\nB=2\r\n", ".env"), { A: "1", B: "2" });
});

Deno.test("parseEnvFile: a malformed line is an error naming file and line", () => {
  const cases: [string, string][] = [
    [
      "A=1\nB=2\nthis is not an assignment\n",
      '.env:3: expected KEY=VALUE or export KEY=VALUE, got "this is not an assignment"',
    ],
    ["A=1\n=novalue\n", '.env:2: expected KEY=VALUE or export KEY=VALUE, got "=novalue"'],
    ["JUSTAKEY\n", '.env:1: expected KEY=VALUE or export KEY=VALUE, got "JUSTAKEY"'],
    ["export\n", '.env:1: expected KEY=VALUE or export KEY=VALUE, got "export"'],
    [
      'A=1\nB="never closed\nC=3\n',
      '.env:2: unterminated quoted value: missing the closing " at the end of a line',
    ],
    [
      "A='open\nB='x' trailing\n",
      ".env:1: unterminated quoted value: missing the closing ' at the end of a line",
    ],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => parseEnvFile(text, ".env"), ConfigError);
    assertEquals(error.message, message);
  }
});

Deno.test("parseEnvFile: a line after a multi-line value is counted correctly", () => {
  const error = assertThrows(() => parseEnvFile('A="x\ny"\nB=1\nbroken\n', "f.env"), ConfigError);
  assertEquals([error.file, error.line], ["f.env", 4]);
});

Deno.test("loadEnvFiles: order, override of the base, missing files skipped", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "A=from-env\nB=from-env\nSHARED=env\n");
    await Deno.writeTextFile(`${dir}/.env.local`, "B=from-local\nC=local\n");
    const files = [`${dir}/.env`, `${dir}/missing.env`, `${dir}/.env.local`];
    assertEquals(await loadEnvFiles(files), {
      A: "from-env",
      B: "from-local",
      SHARED: "env",
      C: "local",
    });
    assertEquals(await loadEnvFiles(files, { SHARED: "process", KEEP: "process" }), {
      SHARED: "env",
      KEEP: "process",
      A: "from-env",
      B: "from-local",
      C: "local",
    });
    assertEquals(await loadEnvFiles([`${dir}/.env.local`, `${dir}/.env`]), {
      B: "from-env",
      C: "local",
      A: "from-env",
      SHARED: "env",
    });
    assertEquals(await loadEnvFiles([], { X: "1" }), { X: "1" });
  });
});

Deno.test("loadEnvFiles: a malformed line fails the load with file and line", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "A=1\n\n# ok\noops\n");
    const error = await assertRejects(() => loadEnvFiles([`${dir}/.env`]), ConfigError);
    assertEquals(error.message.split(": ")[0], `${dir}/.env:4`);
  });
});

Deno.test("loadEnvFiles: a file that exists but cannot be read is an error", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/.env`);
    const error = await assertRejects(() => loadEnvFiles([`${dir}/.env`]), ConfigError);
    assertEquals(error.message.startsWith(`${dir}/.env: cannot read the env file`), true);
  });
});
