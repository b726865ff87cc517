import { verify } from "hono/jwt";
import { DEBUG_SUBJECT, debugInfo } from "../../src/cli/debug.ts";
import { versionText } from "../../src/cli/version.ts";
import { ConfigError } from "../../src/config/error.ts";
import { authenticate } from "../../src/server/auth.ts";
import { VERSION } from "../../src/version.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { withTempDir } from "../temp_dir.ts";

const SECRET = "debug-test-secret-0123456789";
const NOW = new Date("2026-03-01T10:00:00Z");

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  return withTempDir("prunner-debug-", fn);
}

function bearerToken(text: string): string {
  const match = /Authorization: Bearer (\S+)/.exec(text);
  assert(match, `no Authorization header in ${text}`);
  return match[1];
}

Deno.test("debugInfo: prints a token that verifies with the given secret", async () => {
  const text = await debugInfo(
    { config: "unused.yml", jwtSecret: SECRET, address: "localhost:9009" },
    { env: {} },
  );
  assertMatch(text, /^JWT secret: given by --jwt-secret \/ \$PRUNNER_JWT_SECRET$/m);
  const token = bearerToken(text);
  const claims = await verify(token, SECRET, "HS256");
  assertEquals(claims.sub, DEBUG_SUBJECT);
  assert(typeof claims.iat === "number" && typeof claims.exp === "number");
  assert(claims.exp - claims.iat >= 300 * 24 * 3600, "valid for about a year");
  await assertRejects(() => verify(token, "another-secret-0123456789", "HS256"));
  assert(
    text.includes(`curl -H "Authorization: Bearer ${token}" http://localhost:9009/pipelines/`),
    text,
  );
});

Deno.test("debugInfo: the server's authentication accepts the token", async () => {
  const text = await debugInfo(
    { config: "unused.yml", jwtSecret: SECRET, address: "localhost:9009" },
    { env: {} },
  );
  assertEquals(await authenticate(`Bearer ${bearerToken(text)}`, SECRET), {
    ok: true,
    user: DEBUG_SUBJECT,
  });
});

Deno.test("debugInfo: iat and exp follow the given time", async () => {
  const text = await debugInfo(
    { config: "unused.yml", jwtSecret: SECRET, address: ":9009" },
    { env: {}, now: NOW },
  );
  const token = bearerToken(text);
  const [, payload] = token.split(".");
  const claims = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
  assertEquals(claims.iat, NOW.getTime() / 1000);
  assertEquals(claims.exp, NOW.getTime() / 1000 + 365 * 24 * 3600);
  assertMatch(text, /expires at 2027-03-01T10:00:00Z/);
  assertMatch(text, /http:\/\/localhost:9009\/pipelines\//);
});

Deno.test("debugInfo: uses, or creates, the config file's secret", async () => {
  await withDir(async (dir) => {
    const config = `${dir}/.prunner.yml`;
    const options = { config, jwtSecret: null, address: "0.0.0.0:8080" };
    const first = await debugInfo(options, { env: {} });
    assert(
      first.includes(`JWT secret: generated and saved as jwt_secret in the config file ${config}`),
    );
    assertMatch(first, /http:\/\/localhost:8080\/pipelines\//);
    const secret = /jwt_secret: (\S+)/.exec(await Deno.readTextFile(config))![1];
    assertEquals((await verify(bearerToken(first), secret, "HS256")).sub, DEBUG_SUBJECT);

    const second = await debugInfo(options, { env: {} });
    assert(second.includes(`JWT secret: read from jwt_secret in the config file ${config}`));
    await verify(bearerToken(second), secret, "HS256");
  });
});

Deno.test("debugInfo: prints a link that opens the web UI signed in, unless the UI is off", async () => {
  const options = { config: "unused.yml", jwtSecret: SECRET, address: "0.0.0.0:8080" };
  const text = await debugInfo(options, { env: {} });
  const token = bearerToken(text);
  assert(text.endsWith(`\n    http://localhost:8080/ui/#token=${token}`), text);
  const off = await debugInfo({ ...options, ui: false }, { env: {} });
  assert(!off.includes("/ui/"), off);
});

Deno.test("debugInfo: MINIMAL_OUTPUT=1 prints only the bearer token", async () => {
  const text = await debugInfo(
    { config: "unused.yml", jwtSecret: SECRET, address: "localhost:9009" },
    { env: { MINIMAL_OUTPUT: "1" } },
  );
  assertMatch(text, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  await verify(text.slice("Bearer ".length), SECRET, "HS256");
});

Deno.test("debugInfo: a malformed config file is an error naming it", async () => {
  await withDir(async (dir) => {
    const config = `${dir}/.prunner.yml`;
    await Deno.writeTextFile(config, "jwt_secret: short\n");
    const error = await assertRejects(
      () => debugInfo({ config, jwtSecret: null, address: "localhost:9009" }, { env: {} }),
      ConfigError,
    );
    assertMatch(error.message, new RegExp(`^${config.replaceAll(".", "\\.")}:1: `));
  });
});

Deno.test("versionText: names prunner's and Deno's versions", () => {
  const text = versionText();
  assertEquals(
    text,
    `prunner ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
  );
  assertMatch(text, /^prunner \d+\.\d+\.\d+/);
});
