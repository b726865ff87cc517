/**
 * The UI's shell: the token screen until a token is known, then the navigation, the live
 * connection's state and the screen the URL fragment names.
 *
 * @module
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { clearToken, createApi, loadToken, saveToken } from "./api.ts";
import { startLive } from "./live.ts";
import { JobScreen } from "./job.tsx";
import { JobsScreen } from "./jobs.tsx";
import { PipelinesScreen } from "./pipelines.tsx";
import { parseRoute, type Route } from "./route.ts";
import type { StreamState } from "./sse.ts";
import { TokenScreen } from "./token.tsx";

/**
 * Takes a token from a `#token=…` fragment (as `prunner debug` prints) into session storage and
 * removes it from the address. Returns the token, or `null` when the fragment has none.
 */
function tokenFromFragment(): string | null {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  const token = saveToken(decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/pipelines`);
  return token;
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}

/** The whole UI. */
export function App() {
  const [token, setToken] = useState(() => {
    tokenFromFragment();
    return loadToken();
  });
  const [notice, setNotice] = useState<string | null>(null);
  const [state, setState] = useState<StreamState>("connecting");
  const route = useRoute();
  useEffect(() => {
    // A sign-in link opened in a tab that already shows the UI.
    const signIn = () => {
      const fromLink = tokenFromFragment();
      if (fromLink !== null) setToken(fromLink);
    };
    addEventListener("hashchange", signIn);
    return () => removeEventListener("hashchange", signIn);
  }, []);

  const session = useMemo(() => {
    if (token === null) return null;
    const signOut = (message: string) => {
      clearToken();
      setNotice(message);
      setToken(null);
    };
    const api = createApi(
      new URL("../", document.baseURI),
      token,
      (message) => signOut(`The server refused the token: ${message}`),
    );
    const live = startLive(api, setState, () => {});
    return { api, live };
  }, [token]);
  useEffect(() => () => session?.live.close(), [session]);
  useEffect(() => {
    const screen = session === null
      ? "Sign in"
      : route.screen === "job"
      ? route.task === null ? "Job" : `Output of ${route.task}`
      : route.screen === "jobs"
      ? "Jobs"
      : "Pipelines";
    document.title = `${screen} · prunner`;
  }, [session, route]);

  if (session === null) {
    return (
      <TokenScreen
        notice={notice}
        onToken={(value) => {
          setNotice(null);
          setToken(saveToken(value));
        }}
      />
    );
  }
  const current = route.screen === "job" ? "jobs" : route.screen;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/pipelines">prunner</a>
        <nav aria-label="Main">
          <a href="#/pipelines" aria-current={current === "pipelines" ? "page" : undefined}>
            Pipelines
          </a>
          <a href="#/jobs" aria-current={current === "jobs" ? "page" : undefined}>Jobs</a>
        </nav>
        <span class={`live live-${state}`} role="status" data-state={state}>
          {state === "live" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            clearToken();
            setToken(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {route.screen === "pipelines" && <PipelinesScreen {...session} />}
        {route.screen === "jobs" && (
          <JobsScreen {...session} pipeline={route.pipeline} status={route.status} />
        )}
        {route.screen === "job" && <JobScreen {...session} id={route.id} task={route.task} />}
      </main>
    </>
  );
}
