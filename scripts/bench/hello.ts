/**
 * The bare baseline of case 7: a `Deno.serve` hello world.
 * `deno run -A scripts/bench/hello.ts PORT` listens on 127.0.0.1:PORT.
 *
 * @module
 */

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => new Response("Hello World"),
  );
}
