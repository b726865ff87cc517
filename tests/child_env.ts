/**
 * The environment for processes that tests start (`deno run main.ts`, `script`, …).
 *
 * Children keep what Deno itself needs from the parent: `DENO_DIR` (or `HOME` and
 * `XDG_CACHE_HOME`, below which Deno's default cache lies), `PATH`, TLS settings such as
 * `SSL_CERT_FILE`, `DENO_CERT` or `DENO_TLS_CA_STORE`, and proxies (`HTTPS_PROXY`, `NO_PROXY`).
 * Without them a child would fetch every package again into another cache, or fail to fetch
 * on a machine that needs a proxy or its own certificates.
 *
 * What tests are about is cleared: prunner's own settings (`PRUNNER_*`), the user a job is
 * scheduled for, and colour and terminal settings. A test sets those it needs explicitly.
 */

/** Names of variables that change what prunner or its client does, so no test inherits them. */
const ABOUT_THE_TEST = /^(PRUNNER_.*|USER|LOGNAME|USERNAME|NO_COLOR|TERM|MINIMAL_OUTPUT)$/;

/**
 * `parent` (by default this process's environment) without the variables that tests are
 * about, plus `env`. Pass the result as `env` together with `clearEnv: true`.
 *
 * @example
 * ```ts
 * new Deno.Command(Deno.execPath(), {
 *   args: ["run", "-A", "main.ts", "list"],
 *   env: childEnv({ PRUNNER_SERVER: url }),
 *   clearEnv: true,
 * });
 * ```
 */
export function childEnv(
  env: Record<string, string> = {},
  parent: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const inherited = Object.entries(parent)
    .filter(([name]) => !ABOUT_THE_TEST.test(name));
  return { ...Object.fromEntries(inherited), ...env };
}
