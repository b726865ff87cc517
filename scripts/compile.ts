/**
 * `deno task compile`: single-file prunner binaries for every supported platform, written to
 * `dist/prunner-<version>-<os>-<arch>[.exe]` together with a `SHA256SUMS` file.
 *
 * ```sh
 * deno task compile                                  # every target
 * deno task compile --target current                 # this machine's platform
 * deno task compile --target aarch64-unknown-linux-gnu --out-dir build
 * ```
 *
 * The version is `PRUNNER_VERSION` when set (the release workflow sets it to the tag), else the
 * `vX.Y.Z` tag on the checked-out commit, else deno.json's version. It reaches the binary through
 * an import map that points `src/version.ts`'s import of deno.json at a generated
 * `{ "version": ... }` file, so `prunner version` shows it without any runtime lookup.
 *
 * `deno compile` downloads Deno's runtime (denort) for each target from dl.deno.land, or takes
 * it from `DENORT_BIN`.
 *
 * @module
 */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PrunnerError } from "../src/errors.ts";

/** A platform prunner is built for. */
export interface Target {
  /** The Rust target triple `deno compile --target` takes. */
  readonly triple: string;
  /** The `<os>-<arch>` part of the binary's file name. */
  readonly name: string;
  /** Binaries for this target end in `.exe`. */
  readonly exe: boolean;
}

/** Every platform a release ships a binary for. */
export const TARGETS: readonly Target[] = [
  { triple: "x86_64-unknown-linux-gnu", name: "linux-x86_64", exe: false },
  { triple: "aarch64-unknown-linux-gnu", name: "linux-aarch64", exe: false },
  { triple: "x86_64-apple-darwin", name: "darwin-x86_64", exe: false },
  { triple: "aarch64-apple-darwin", name: "darwin-aarch64", exe: false },
  { triple: "x86_64-pc-windows-msvc", name: "windows-x86_64", exe: true },
];

/**
 * The permissions baked into the binary. Each is unscoped because what it guards is only known
 * at run time. prunner needs no `--allow-sys` or `--allow-import`.
 */
export const PERMISSION_FLAGS: readonly string[] = [
  // Pipeline files below --path, --env-files, the --config file and the --data directory.
  "--allow-read",
  // The --data directory (job store, task logs, lock file) and the generated --config file.
  "--allow-write",
  // The HTTP API listens on --address, any host and port.
  "--allow-net",
  // PRUNNER_* variables, values from --env-files set for tasks, the PATH lookup of `sh`.
  "--allow-env",
  // Task lines run as `sh -c` (`cmd` on Windows); stopping a task signals its whole process
  // group, and Deno.kill requires unscoped run permission.
  "--allow-run",
  // Only glibc's malloc_trim, to give memory back after a burst of jobs (src/memory/); it
  // grants nothing that running any program (--allow-run) does not already.
  "--allow-ffi",
];

/** Flags for `deno compile` (and `deno run`) besides target, output and import map. */
export const COMPILE_FLAGS: readonly string[] = ["--unstable-kv", "--frozen", ...PERMISSION_FLAGS];

/** The project root: the directory holding deno.json and main.ts. */
export const ROOT: URL = new URL("../", import.meta.url);

const DENO_JSON = new URL("deno.json", ROOT);
const VERSION_PATTERN = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/** Building binaries failed; the message says what to do. */
export class CompileError extends PrunnerError {}

/** `deno compile` could not obtain Deno's runtime (denort) for a target. */
export class RuntimeUnavailableError extends CompileError {
  constructor(readonly target: Target, detail: string) {
    super(
      `Deno's runtime (denort ${Deno.version.deno} for ${target.triple}) could not be obtained ` +
        `(${detail}); set DENORT_BIN to a denort binary of Deno ${Deno.version.deno} for ` +
        `${target.triple}, or run where dl.deno.land is reachable.`,
    );
  }
}

/**
 * Finds a target by triple, by `<os>-<arch>` name, or `current` for this machine's platform.
 *
 * @throws {CompileError} for any other name.
 * @example
 * ```ts
 * resolveTarget("linux-x86_64").triple; // "x86_64-unknown-linux-gnu"
 * ```
 */
export function resolveTarget(name: string): Target {
  const wanted = name === "current" ? Deno.build.target : name;
  const target = TARGETS.find((t) => t.triple === wanted || t.name === wanted);
  if (target) return target;
  const known = TARGETS.map((t) => `${t.triple} (${t.name})`).join(", ");
  throw new CompileError(`unknown target "${name}": use current or one of ${known}`);
}

/** The file name of a target's binary, e.g. `prunner-1.2.3-linux-x86_64`. */
export function binaryName(version: string, target: Target): string {
  return `prunner-${version}-${target.name}${target.exe ? ".exe" : ""}`;
}

/**
 * The version to embed: `PRUNNER_VERSION` from `env`, else the `vX.Y.Z` tag on HEAD of the git
 * checkout at `root`, else the version in `root`'s deno.json. A leading `v` is dropped.
 *
 * @throws {CompileError} when `PRUNNER_VERSION` is not a version.
 */
export async function resolveVersion(
  env: Record<string, string | undefined>,
  root: URL = ROOT,
): Promise<string> {
  const given = env.PRUNNER_VERSION?.trim();
  if (given) {
    const match = VERSION_PATTERN.exec(given);
    if (!match) {
      throw new CompileError(
        `PRUNNER_VERSION "${given}" is not a version: expected X.Y.Z or vX.Y.Z (e.g. v1.2.3)`,
      );
    }
    return match[1];
  }
  const tag = VERSION_PATTERN.exec(await gitTagAtHead(root) ?? "");
  if (tag) return tag[1];
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return String(config.version);
}

async function gitTagAtHead(root: URL): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command("git", {
      args: ["describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"],
      cwd: root,
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Writes an import map that makes `version` prunner's version: deno.json's imports, plus deno.json
 * itself (as `src/version.ts` imports it) mapped to a generated `{ "version": ... }` file.
 * Returns the map's path inside `dir`.
 */
export async function writeVersionImportMap(version: string, dir: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(DENO_JSON));
  const versionFile = `${dir}/version.json`;
  await Deno.writeTextFile(versionFile, JSON.stringify({ version }) + "\n");
  const map = {
    imports: { ...config.imports, [DENO_JSON.href]: pathToFileURL(versionFile).href },
    scopes: config.scopes ?? {},
  };
  const mapFile = `${dir}/import_map.json`;
  await Deno.writeTextFile(mapFile, JSON.stringify(map, null, 2) + "\n");
  return mapFile;
}

/** What {@link compileTarget} needs. */
export interface CompileOptions {
  readonly target: Target;
  /** Where the binary goes. */
  readonly output: string;
  /** The import map from {@link writeVersionImportMap}. */
  readonly importMap: string;
  /** The environment `deno compile` runs with (DENORT_BIN among it). */
  readonly env: Record<string, string>;
}

/**
 * Runs `deno compile` of main.ts for one target.
 *
 * @throws {RuntimeUnavailableError} when denort cannot be downloaded or DENORT_BIN is unusable.
 * @throws {CompileError} when `deno compile` fails otherwise (its output is in the message).
 */
export async function compileTarget(options: CompileOptions): Promise<void> {
  const { target, output, importMap, env } = options;
  checkDenortBin(target, env.DENORT_BIN);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      ...COMPILE_FLAGS,
      "--import-map",
      importMap,
      "--target",
      target.triple,
      "--output",
      output,
      "main.ts",
    ],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (success) return;
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const runtimeProblem = denortProblem(text);
  if (runtimeProblem) throw new RuntimeUnavailableError(target, runtimeProblem);
  throw new CompileError(`deno compile for ${target.triple} failed:\n${text.trim()}`);
}

function checkDenortBin(target: Target, denortBin: string | undefined): void {
  if (!denortBin) return;
  let path: string;
  try {
    path = Deno.realPathSync(denortBin);
  } catch {
    throw new RuntimeUnavailableError(target, `DENORT_BIN ${denortBin} does not exist`);
  }
  if (path === Deno.realPathSync(Deno.execPath())) {
    throw new RuntimeUnavailableError(
      target,
      `DENORT_BIN ${denortBin} is the deno CLI, which ignores the embedded program`,
    );
  }
}

/** Recognizes `deno compile`'s output when it could not get denort; returns why, else null. */
export function denortProblem(output: string): string | null {
  const download = /error sending request for url \((\S+denort\S+)\)/.exec(output);
  if (download) return `downloading ${download[1]} failed`;
  const missing = /Could not find denort at '([^']*)'/.exec(output);
  if (missing) return `DENORT_BIN ${missing[1]} does not exist`;
  if (/Setting up base binary/.test(output)) return "setting up the base binary failed";
  return null;
}

/**
 * Writes `SHA256SUMS` (the format of `sha256sum`) in `dir` for every `prunner-<version>-*`
 * binary there, so building targets one at a time still yields a complete file.
 * Returns the listed file names.
 */
export async function writeChecksums(dir: string, version: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(`prunner-${version}-`)) names.push(entry.name);
  }
  names.sort();
  const lines = await Promise.all(names.map(async (name) => {
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/${name}`));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex}  ${name}\n`;
  }));
  await Deno.writeTextFile(`${dir}/SHA256SUMS`, lines.join(""));
  return names;
}

/** What {@link build} needs. */
export interface BuildOptions {
  readonly targets: readonly Target[];
  readonly outDir: string;
  readonly version: string;
  readonly env: Record<string, string>;
  /** Called with each binary's path once it is written. */
  readonly onBuilt?: (path: string) => void;
}

/**
 * Compiles every target into `outDir` and writes `SHA256SUMS`. Returns the binaries' paths.
 *
 * @throws {CompileError} when DENORT_BIN is set for more than one target, or a compile fails.
 */
export async function build(options: BuildOptions): Promise<string[]> {
  const { targets, outDir, version, env } = options;
  if (env.DENORT_BIN && targets.length > 1) {
    throw new CompileError(
      "DENORT_BIN is a runtime for one target: choose that target with --target",
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  // Inside the project (dist/ is git-ignored), so the embedded files share the project's root.
  const buildDir = fileURLToPath(new URL("dist", ROOT));
  await Deno.mkdir(buildDir, { recursive: true });
  const workDir = await Deno.makeTempDir({ dir: buildDir, prefix: ".compile-" });
  try {
    const importMap = await writeVersionImportMap(version, workDir);
    const built: string[] = [];
    for (const target of targets) {
      const output = resolve(outDir, binaryName(version, target));
      await compileTarget({ target, output, importMap, env });
      built.push(output);
      options.onBuilt?.(output);
    }
    await writeChecksums(outDir, version);
    return built;
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
}

const USAGE = `Usage: deno task compile [--target NAME]... [--out-dir DIR]

Builds prunner binaries into DIR (default: dist) and writes DIR/SHA256SUMS.
NAME is a target triple, an <os>-<arch> name or "current"; without --target every target is built:
${TARGETS.map((t) => `  ${t.triple.padEnd(28)}${t.name}`).join("\n")}

Environment:
  PRUNNER_VERSION  version to embed (default: the vX.Y.Z tag on HEAD, else deno.json's version)
  DENORT_BIN       denort binary of Deno ${Deno.version.deno} for the one target built`;

/** Runs the command line; resolves with the exit code. */
export async function cli(args: string[], env: Record<string, string>): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        target: { type: "string", multiple: true },
        "out-dir": { type: "string", default: "dist" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`compile: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const targets = values.target ? [...new Set(values.target.map(resolveTarget))] : TARGETS;
    const version = await resolveVersion(env);
    const outDir = values["out-dir"];
    console.log(`Compiling prunner ${version} for ${targets.map((t) => t.name).join(", ")}`);
    await build({ targets, outDir, version, env, onBuilt: (path) => console.log(`  ${path}`) });
    console.log(`  ${outDir}/SHA256SUMS`);
    return 0;
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    console.error(`compile: ${error.message}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await cli(Deno.args, Deno.env.toObject()));
}
