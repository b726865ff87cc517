import { assertEquals } from "./assert.ts";
import { childEnv } from "./child_env.ts";

Deno.test("childEnv keeps what Deno needs, drops what prunner reads, adds the test's own", () => {
  const parent = {
    DENO_DIR: "/cache",
    HOME: "/home/ann",
    PATH: "/usr/bin",
    SSL_CERT_FILE: "/etc/ca.pem",
    HTTPS_PROXY: "http://proxy:3128",
    PRUNNER_SERVER: "http://elsewhere",
    PRUNNER_JWT_SECRET: "the developer's own",
    USER: "ann",
    LOGNAME: "ann",
    NO_COLOR: "1",
    TERM: "xterm",
  };
  assertEquals(childEnv({ USER: "alice", PRUNNER_SERVER: "http://here" }, parent), {
    DENO_DIR: "/cache",
    HOME: "/home/ann",
    PATH: "/usr/bin",
    SSL_CERT_FILE: "/etc/ca.pem",
    HTTPS_PROXY: "http://proxy:3128",
    USER: "alice",
    PRUNNER_SERVER: "http://here",
  });
});

Deno.test("a child started with childEnv and clearEnv uses the parent's Deno cache", async () => {
  const denoDir = async (options: Deno.CommandOptions) => {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      ...options,
      args: ["info", "--json"],
      stdout: "piped",
    }).output();
    assertEquals(success, true, "deno info ran");
    return JSON.parse(new TextDecoder().decode(stdout)).denoDir;
  };
  assertEquals(await denoDir({ env: childEnv(), clearEnv: true }), await denoDir({}));
});
