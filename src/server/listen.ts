/**
 * Serving the app on prunner's `--address` (`host:port`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorMessage, PrunnerError } from "../errors.ts";

/** The server cannot listen on the address: it is malformed, taken or not available. */
export class AddressError extends PrunnerError {
  constructor(readonly address: string, readonly reason: string) {
    super(`cannot listen on ${address}: ${reason}`);
  }
}

/** Where to listen, as `Deno.serve` takes it. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** A server that is listening. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:9009`. */
  url: string;
  hostname: string;
  /** The port listened on (the chosen one when the address asked for port 0). */
  port: number;
  /** Stops accepting connections and resolves when the open requests are answered. */
  shutdown(): Promise<void>;
}

/** Anything with a fetch handler, such as a Hono app. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

const USAGE = "expected host:port, e.g. localhost:9009, :9009 (all interfaces) or [::1]:9009";

/**
 * Parses prunner's listen address. An empty host means all interfaces; port 0 asks for a free
 * port. Throws `AddressError` for anything else than `host:port`.
 *
 * @example
 * ```ts
 * parseAddress("localhost:9009"); // { hostname: "localhost", port: 9009 }
 * parseAddress(":9009"); // { hostname: "0.0.0.0", port: 9009 }
 * parseAddress("[::1]:0"); // { hostname: "::1", port: 0 }
 * ```
 */
export function parseAddress(address: string): ListenAddress {
  const invalid = (what: string) => new AddressError(JSON.stringify(address), `${what} (${USAGE})`);
  let host: string;
  let port: string;
  if (address.startsWith("[")) {
    const end = address.indexOf("]");
    if (end < 0) throw invalid("missing ']' after the IPv6 address");
    if (address[end + 1] !== ":") throw invalid("missing port");
    host = address.slice(1, end);
    port = address.slice(end + 2);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) throw invalid("missing port");
    host = address.slice(0, colon);
    port = address.slice(colon + 1);
    if (host.includes(":")) throw invalid("an IPv6 address needs brackets");
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw invalid(`port ${JSON.stringify(port)} is not a number from 0 to 65535`);
  }
  return { hostname: host === "" ? "0.0.0.0" : host, port: Number(port) };
}

/**
 * Serves `app` on `address` (prunner's `--address` format). Resolves once listening; throws
 * `AddressError` when the address is malformed, in use or not available.
 *
 * @example
 * ```ts
 * const server = await startServer(app, "localhost:0");
 * console.log(`listening on ${server.url}`);
 * await server.shutdown();
 * ```
 */
export function startServer(app: FetchApp, address: string): Promise<RunningServer> {
  let parsed: ListenAddress;
  try {
    parsed = parseAddress(address);
  } catch (error) {
    return Promise.reject(error);
  }
  const { hostname, port } = parsed;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      onListen: () => {},
      onError: (error) => {
        getLogger(["prunner", "http"]).error("Request failed: {error}", { error });
        return Response.json({ error: "internal error" }, { status: 500 });
      },
    }, (request) => app.fetch(request));
  } catch (error) {
    return Promise.reject(new AddressError(address, describeListenError(error)));
  }
  const { hostname: boundHost, port: boundPort } = server.addr;
  const urlHost = boundHost.includes(":") ? `[${boundHost}]` : boundHost;
  return Promise.resolve({
    url: `http://${urlHost}:${boundPort}`,
    hostname: boundHost,
    port: boundPort,
    shutdown: () => server.shutdown(),
  });
}

function describeListenError(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "address not available on this machine";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  return errorMessage(error);
}
