import {
  canonicalJson,
  decideReplay,
  holdsKey,
  idempotencyDigest,
  requestFingerprint,
} from "../../src/engine/idempotency.ts";
import { assert, assertEquals } from "../assert.ts";

const request = {
  pipeline: "build",
  variables: { a: 1, b: [1, { d: 2, c: 3 }] },
  queuePartition: null,
};

Deno.test("canonicalJson sorts object keys at every depth and keeps array order", () => {
  assertEquals(
    canonicalJson({ b: [2, 1, { z: 0, y: null }], a: "x" }),
    '{"a":"x","b":[2,1,{"y":null,"z":0}]}',
  );
  assertEquals(canonicalJson([{}, [], "ü\n"]), '[{},[],"ü\\n"]');
});

Deno.test("requestFingerprint: key order does not matter; pipeline, variables and partition do", () => {
  const same = {
    pipeline: "build",
    variables: { b: [1, { c: 3, d: 2 }], a: 1 },
    queuePartition: null,
  };
  assertEquals(requestFingerprint(same), requestFingerprint(request));
  assertEquals(requestFingerprint(request).length, 64);
  const others = [
    { ...request, pipeline: "deploy" },
    { ...request, variables: { a: 1, b: [{ d: 2, c: 3 }, 1] } },
    { ...request, variables: { a: "1", b: [1, { d: 2, c: 3 }] } },
    { ...request, queuePartition: "site-a" },
  ];
  for (const other of others) {
    assert(requestFingerprint(other) !== requestFingerprint(request), JSON.stringify(other));
  }
  assertEquals(
    requestFingerprint({ ...request, variables: null }),
    requestFingerprint({ ...request, variables: {} }),
  );
});

Deno.test("holdsKey: the user's key until it expires; decideReplay compares fingerprints", () => {
  const job = { user: "ann", idempotency: { key: "k", fingerprint: "f1", expires: 100 } };
  assertEquals(holdsKey(job, "ann", "k", 99), true);
  assertEquals(holdsKey(job, "ann", "k", 100), false);
  assertEquals(holdsKey(job, "bob", "k", 0), false);
  assertEquals(holdsKey(job, "ann", "K", 0), false);
  assertEquals(holdsKey({ user: "ann" }, "ann", "k", 0), false);
  assertEquals(decideReplay(job, "f1"), { kind: "replay" });
  assertEquals(decideReplay(job, "f2"), { kind: "conflict" });
});

Deno.test("idempotencyDigest tells users and keys apart, wherever they split", () => {
  assert(idempotencyDigest("ab", "c") !== idempotencyDigest("a", "bc"), "split");
  assertEquals(idempotencyDigest("a", "b"), idempotencyDigest("a", "b"));
});
