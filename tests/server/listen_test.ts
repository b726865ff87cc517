import { assertEquals, assertMatch, assertRejects, assertThrows } from "../assert.ts";
import { AddressError, parseAddress, startServer } from "../../src/server/mod.ts";
import { PrunnerError } from "../../src/errors.ts";

const app = { fetch: () => Response.json({ ok: true }) };

Deno.test("parseAddress reads prunner's --address forms", () => {
  assertEquals(parseAddress("localhost:9009"), { hostname: "localhost", port: 9009 });
  assertEquals(parseAddress(":9009"), { hostname: "0.0.0.0", port: 9009 });
  assertEquals(parseAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  assertEquals(parseAddress("[::1]:9009"), { hostname: "::1", port: 9009 });
  assertEquals(parseAddress("0.0.0.0:65535"), { hostname: "0.0.0.0", port: 65535 });
});

Deno.test("parseAddress refuses malformed addresses with an AddressError", () => {
  const cases: Array<[string, RegExp]> = [
    ["localhost", /missing port/],
    ["", /missing port/],
    ["localhost:", /port "" is not a number/],
    ["localhost:http", /port "http" is not a number/],
    ["localhost:65536", /port "65536" is not a number from 0 to 65535/],
    ["::1:9009", /IPv6 address needs brackets/],
    ["[::1:9009", /missing '\]'/],
    ["[::1]9009", /missing port/],
  ];
  for (const [address, message] of cases) {
    const error = assertThrows(() => parseAddress(address), AddressError);
    assertMatch(error.message, message, address);
    assertMatch(error.message, /^cannot listen on ".*": .*expected host:port/, address);
    assertEquals(error instanceof PrunnerError, true);
  }
});

Deno.test("startServer listens on a free port and serves the app", async () => {
  const server = await startServer(app, "127.0.0.1:0");
  try {
    assertMatch(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assertEquals(server.url, `http://127.0.0.1:${server.port}`);
    const response = await fetch(server.url);
    assertEquals(await response.json(), { ok: true });
  } finally {
    await server.shutdown();
  }
});

Deno.test("startServer with an empty host listens on all interfaces", async () => {
  const server = await startServer(app, ":0");
  try {
    assertEquals(server.hostname, "0.0.0.0");
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    assertEquals(response.status, 200);
    await response.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a port in use is an AddressError naming the address", async () => {
  const first = await startServer(app, "127.0.0.1:0");
  try {
    const address = `127.0.0.1:${first.port}`;
    await assertRejects(
      () => startServer(app, address),
      AddressError,
      `cannot listen on ${address}: address already in use`,
    );
  } finally {
    await first.shutdown();
  }
});

Deno.test("an address of another machine or a malformed one is an AddressError", async () => {
  // 192.0.2.1 is reserved for documentation: binding to it fails locally, nothing is sent.
  await assertRejects(
    () => startServer(app, "192.0.2.1:0"),
    AddressError,
    "cannot listen on 192.0.2.1:0: address not available on this machine",
  );
  await assertRejects(() => startServer(app, "localhost"), AddressError, "missing port");
});
