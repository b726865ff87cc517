/**
 * Reloading pipeline definitions: on SIGUSR1, and with `--watch` by polling and file events.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import { getLogger } from "@logtape/logtape";
import { definitionsEqual, loadDefinitions, type LoadOptions } from "../definition/mod.ts";
import type { Runner } from "../runner/runner.ts";

const log = getLogger(["prunner", "reload"]);

/**
 * Loads the definitions again and hands them to the runner when they changed. Invalid new
 * definitions are logged and the active ones stay. Returns whether anything changed.
 */
export async function reloadDefinitions(runner: Runner, options: LoadOptions): Promise<boolean> {
  let loaded;
  try {
    loaded = await loadDefinitions(options);
  } catch (error) {
    log.error("Keeping the active pipelines; the new definitions are invalid:\n{error}", {
      error: errorMessage(error),
    });
    return false;
  }
  if (definitionsEqual(runner.definitions(), loaded.definitions)) {
    log.debug("Definitions unchanged");
    return false;
  }
  runner.setDefinitions(loaded.definitions);
  log.info("Reloaded {count} pipeline(s) from {files} file(s)", {
    count: loaded.definitions.size,
    files: loaded.files.length,
  });
  return true;
}

/** A running reload trigger; `stop()` ends it. */
export interface Watcher {
  stop(): void;
}

/**
 * Calls `reload` every `intervalMs`, and soon after a file below `path` changes where the
 * platform reports file events. Reloads never overlap.
 */
export function watchDefinitions(
  path: string,
  intervalMs: number,
  reload: () => Promise<unknown>,
): Watcher {
  let running: Promise<unknown> | null = null;
  let again = false;
  const trigger = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = reload().finally(() => {
      running = null;
      if (again) {
        again = false;
        trigger();
      }
    });
  };
  const interval = setInterval(trigger, intervalMs);
  let debounce: ReturnType<typeof setTimeout> | undefined;
  let fsWatcher: Deno.FsWatcher | null = null;
  try {
    fsWatcher = Deno.watchFs(path, { recursive: true });
    (async () => {
      for await (const event of fsWatcher!) {
        if (event.paths.some((p) => /\.ya?ml$/.test(p))) {
          clearTimeout(debounce);
          debounce = setTimeout(trigger, 200);
        }
      }
    })().catch((error) => log.debug("File events stopped: {error}", { error: String(error) }));
  } catch (error) {
    log.debug("No file events for {path}, polling only: {error}", { path, error: String(error) });
  }
  return {
    stop() {
      clearInterval(interval);
      clearTimeout(debounce);
      fsWatcher?.close();
    },
  };
}
