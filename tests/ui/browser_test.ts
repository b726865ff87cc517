/**
 * The web UI in headless Chromium against a real prunner: signing in, starting a job and
 * following its output live, cancelling, a job scheduled through the API appearing without a
 * reload, the keyboard, and the OS colour scheme. Any page error fails the test with its text.
 */
import type { Page } from "puppeteer-core";
import { signToken } from "../../scripts/bench/jwt.ts";
import { SECRET, startPrunner, workspace } from "../app/support.ts";
import { assert, assertEquals, assertNotEquals } from "../assert.ts";
import { startBrowser, type TestPage } from "./browser.ts";

function pipelines(release: string, more: string): string {
  return `
pipelines:
  hello:
    tasks:
      prepare:
        script:
          - echo preparing
      greet:
        depends_on: [prepare]
        script:
          - echo "first line"
          - echo "a warning" >&2
          - printf '\\033[32mgreen text\\033[0m\\n'
          - while [ ! -f '${release}' ]; do sleep 0.1; done
          - echo "last line"
  chatty:
    tasks:
      talk:
        script:
          - seq 1 400
          - while [ ! -f '${more}' ]; do sleep 0.1; done
          - echo "after the pause"
          - seq 401 800
  flood:
    tasks:
      print:
        script:
          - seq 1 200000
  yearly:
    schedule:
      - cron: "0 0 1 1 *"
    tasks:
      celebrate:
        script: [echo happy new year]
  sleepy:
    tasks:
      nap:
        script:
          - echo napping
          - sleep 600
  # Only for README's screenshot (UI_SCREENSHOT): a graph with a task that keeps running.
  release:
    tasks:
      checkout:
        script:
          - echo "checked out main at 4f2a9c1"
      lint:
        depends_on: [checkout]
        script:
          - printf '\\033[32m✔\\033[0m 214 files linted\\n'
      test:
        depends_on: [checkout]
        script:
          - printf '\\033[1mrunning 1532 unit tests\\033[0m\\n'
          - printf '\\033[32m✔\\033[0m 1532 unit tests passed\\n'
          - printf '\\033[33mwarning:\\033[0m 2 tests took longer than 5s\\n' >&2
          - printf '\\033[32m✔\\033[0m 88 e2e tests passed\\n'
      build:
        depends_on: [lint, test]
        script:
          - echo "built dist/app-{{ .version }}.tar.gz"
      deploy:
        depends_on: [build]
        script:
          - echo "deploying {{ .version }} to production"
          - sleep 600
`;
}

async function jobIdFromHash(ui: TestPage): Promise<string> {
  return await ui.until("the job screen to open", async () => {
    const hash: string = await ui.page.evaluate(() => location.hash);
    return /^#\/job\/([0-9a-f-]{36})$/.exec(hash)?.[1] ?? null;
  });
}

/**
 * A reverse proxy that serves `target` under `prefix` (`/ci/ui/` → `target/ui/`) and answers 404
 * for anything outside it, so a page that uses an absolute URL fails.
 */
function pathPrefixProxy(prefix: string, target: string): AsyncDisposable & { url: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (!url.pathname.startsWith(`${prefix}/`)) {
      return new Response(`not under ${prefix}/`, { status: 404 });
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    return fetch(`${target}${url.pathname.slice(prefix.length)}${url.search}`, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
      signal: request.signal,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}${prefix}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function goTo(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => location.hash = h, hash);
}

Deno.test({
  name: "web UI in Chromium: sign in, start, follow, cancel, live list, keyboard, dark mode",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using ws = await workspace("");
    const release = `${ws.root}/release`;
    const more = `${ws.root}/more`;
    await ws.writePipelines(pipelines(release, more));
    await using prunner = await startPrunner(ws);
    await using chromium = await startBrowser();
    const token = await signToken({ sub: "ui-tester" }, SECRET);
    const ui = await chromium.open(`${prunner.url}/ui/`);
    const { page } = ui;
    await page.setViewport({ width: 1280, height: 900 });

    await t.step("asks for a token, then shows the pipelines", async () => {
      await page.waitForSelector("textarea#token");
      await page.type("textarea#token", `Bearer ${token}`);
      await page.locator("::-p-aria(Sign in)").click();
      await page.waitForSelector("::-p-aria(Start hello)");
      await ui.text("table.pipelines tbody", /hello.*no schedule.*sleepy/s);
      await ui.text("table.pipelines tbody", /yearly.*\d{4}-\d\d-\d\d \d\d:\d\d:00/);
      assertEquals(await page.evaluate(() => sessionStorage.getItem("prunner.token")), token);
    });

    let firstJob = "";
    await t.step("starts a job and shows its output live until it completes", async () => {
      await page.locator("::-p-aria(Start hello)").click();
      firstJob = await jobIdFromHash(ui);
      await page.locator('table.tasks a[href$="/task/greet"]').click();
      await ui.text("pre.log", /first line/);
      await ui.text("pre.log .stderr", /a warning/);
      await ui.text("pre.log .ansi-green-fg", /green text/);
      await ui.text("#job-title", /running/);
      const running = await prunner.job(firstJob);
      assert(!running.completed, "the output was shown while the task still ran");
      assert(!(await page.$eval("pre.log", (e) => e.textContent)).includes("last line"));

      await Deno.writeTextFile(release, "");
      await ui.text("pre.log", /last line/);
      await ui.text(".output-state", /ended: done, exit code 0/);
      await ui.text("#job-title", /done/);
      await ui.until(
        "both graph nodes to be done",
        () => page.$$eval("svg a.node.status-done", (nodes) => nodes.length === 2),
      );
      assertEquals((await prunner.job(firstJob)).completed, true);
    });

    await t.step("refuses variables that are not a JSON object before sending", async () => {
      await goTo(page, "#/pipelines");
      await page.waitForSelector("::-p-aria(Start hello)");
      const before = (await prunner.json<{ jobs: unknown[] }>("GET", "/pipelines/jobs")).jobs;
      await page.locator("tr:has(a[href$='pipeline=hello']) summary").click();
      await page.type("#start-hello-vars", "[1, 2]");
      await page.locator("::-p-aria(Start hello)").click();
      await ui.text("tr:has(a[href$='pipeline=hello']) [role=alert]", /must be a JSON object/);
      const after = (await prunner.json<{ jobs: unknown[] }>("GET", "/pipelines/jobs")).jobs;
      assertEquals(after.length, before.length, "nothing was scheduled");

      await page.evaluate('document.querySelector("#start-hello-vars").select()');
      await page.type("#start-hello-vars", '{"who": "the browser"}');
      await page.locator("::-p-aria(Start hello)").click();
      const id = await jobIdFromHash(ui);
      await ui.text("pre.variables", /"who": "the browser"/);
      assertEquals((await prunner.completed(id)).pipeline, "hello");
      assertEquals((await prunner.job(id) as { variables?: unknown }).variables, {
        who: "the browser",
      });

      await page.locator("::-p-aria(Run again)").click();
      const again = await ui.until("Run again to open the new job", async () => {
        const next = await jobIdFromHash(ui);
        return next !== id ? next : null;
      });
      await ui.text("pre.variables", /"who": "the browser"/);
      assertEquals((await prunner.job(again) as { variables?: unknown }).variables, {
        who: "the browser",
      });
      assertEquals((await prunner.completed(again)).pipeline, "hello");
    });

    await t.step("cancels a running job", async () => {
      await goTo(page, "#/pipelines");
      await page.locator("::-p-aria(Start sleepy)").click();
      const id = await jobIdFromHash(ui);
      await ui.text("#job-title", /running/);
      await page.locator("::-p-aria(Cancel job)").click();
      await ui.text("#job-title", /canceled/);
      const job = await prunner.job(id);
      assert(job.completed && job.canceled, "the server canceled the job");
      assertEquals(await page.$("::-p-aria(Cancel job)"), null, "no Cancel for an ended job");
    });

    await t.step("scrolls along with the output, pausing while the reader scrolls up", async () => {
      const id = await prunner.schedule("chatty");
      await goTo(page, `#/job/${id}/task/talk`);
      await ui.text("pre.log", /\n400\n/);
      const atEnd = () =>
        page.$eval("pre.log", (e) => e.scrollTop + e.clientHeight >= e.scrollHeight - 30);
      await ui.until("the output to be scrolled to its end", atEnd);
      await page.$eval("pre.log", (e) => e.scrollTop = 0);
      await page.waitForSelector("::-p-aria(Scroll to end and follow)");
      await Deno.writeTextFile(more, "");
      await ui.text("pre.log", /after the pause\n401\n[^]*\n800\n/);
      await ui.text(".output-state", /ended: done/);
      assertEquals(await page.$eval("pre.log", (e) => e.scrollTop), 0, "kept where the reader was");
      await page.locator("::-p-aria(Scroll to end and follow)").click();
      await ui.until("the output to be scrolled to its end again", atEnd);

      // The download goes through a Blob URL; keep the Blob to read what was saved.
      await page.evaluate(`{
        const create = URL.createObjectURL;
        URL.createObjectURL = (blob) => (globalThis.downloaded = blob, create(blob));
      }`);
      await page.locator("::-p-aria(Download stdout)").click();
      const raw = await ui.until(
        "the download",
        () => page.evaluate("globalThis.downloaded?.text()"),
      );
      assert(
        typeof raw === "string" && raw.startsWith("1\n2\n") && raw.endsWith("799\n800\n"),
        `the whole raw log: ${String(raw).slice(0, 40)}…`,
      );
    });

    await t.step("keeps only the latest output of a huge log on screen", async () => {
      const id = await prunner.schedule("flood");
      await goTo(page, `#/job/${id}/task/print`);
      await ui.text(".output-state", /ended: done, exit code 0/, 60_000);
      await ui.text(".output [role=note]", /Only the latest output is shown/);
      const shown = await page.$eval("pre.log", (e) => e.textContent ?? "");
      assert(shown.length <= 1_100_000, `at most about 1 MB shown, got ${shown.length}`);
      assert(shown.endsWith("\n199999\n200000\n"), "the end is shown");
      assert(!shown.startsWith("1\n2\n"), "the beginning was dropped");
    });

    await t.step("shows a job scheduled through the API without reloading", async () => {
      await page.locator("nav ::-p-aria(Jobs)").click();
      await page.waitForSelector(`tr[data-job="${firstJob}"]`);
      await page.waitForSelector(".live[data-state=live]");
      await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
      const id = await prunner.schedule("hello");
      await ui.text(`tr[data-job="${id}"]`, /hello.*done.*e2e/s);
      assert(await page.evaluate(() => "sameDocument" in globalThis), "the page was not reloaded");
      const rows = await page.$$eval(
        "table.jobs tbody tr",
        (trs) => trs.map((tr) => tr.dataset.job),
      );
      assertEquals(rows[0], id, "newest first");
    });

    await t.step("filters the jobs by pipeline and by status", async () => {
      const cells = () =>
        page.$$eval(
          "table.jobs tbody tr",
          (trs) =>
            trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent)),
        );
      await page.select("#filter-status", "canceled");
      await ui.until("only canceled jobs", async () => {
        const rows = await cells();
        return rows.length > 0 && rows.every(([, status]) => status === "canceled");
      });
      await page.select("#filter-status", "");
      await page.select("#filter-pipeline", "hello");
      await ui.until("only hello jobs, all of them", async () => {
        const rows = await cells();
        return rows.length === 4 && rows.every(([pipeline]) => pipeline === "hello");
      });
      assertEquals(await page.evaluate(() => location.hash), "#/jobs?pipeline=hello");
    });

    await t.step("starts a job with the keyboard alone", async () => {
      await goTo(page, "#/pipelines");
      await page.waitForSelector("::-p-aria(Start sleepy)");
      await page.evaluate("document.activeElement?.blur()");
      await ui.until("Tab to reach Start sleepy", async () => {
        await page.keyboard.press("Tab");
        return await page.evaluate('document.activeElement?.textContent === "Start sleepy"');
      }, 10_000);
      await page.keyboard.press("Enter");
      const id = await jobIdFromHash(ui);
      await ui.until("Tab to reach Cancel job", async () => {
        await page.keyboard.press("Tab");
        return await page.evaluate('document.activeElement?.textContent === "Cancel job"');
      }, 10_000);
      await page.keyboard.press("Enter");
      await ui.text("#job-title", /canceled/);
      assert((await prunner.job(id)).canceled);
    });

    await t.step("follows the OS colour scheme", async () => {
      const background = () => page.evaluate("getComputedStyle(document.body).backgroundColor");
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
      const light = await background();
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
      const dark = await background();
      assertNotEquals(light, dark);
    });

    const screenshot = Deno.env.get("UI_SCREENSHOT");
    if (screenshot) {
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
      const id = await prunner.schedule("release", { version: "1.4.0" });
      await goTo(page, `#/job/${id}/task/test`);
      await ui.text("pre.log", /88 e2e tests passed/);
      await ui.text("table.tasks", /deploy\s*running/);
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    ui.assertNoErrors();
  },
});

Deno.test({
  name: "web UI in Chromium: a #token link signs in, also behind a proxy's path prefix; " +
    "a refused token returns to the token screen",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using ws = await workspace(
      "pipelines:\n  hello:\n    tasks:\n      a:\n        script: [echo]\n",
    );
    await using prunner = await startPrunner(ws);
    // Declared before the browser so that it is closed after it: open event streams end first.
    await using proxy = pathPrefixProxy("/ci", prunner.url);
    await using chromium = await startBrowser();
    const token = await signToken({ sub: "ui-tester" }, SECRET);

    const good = await chromium.open(`${prunner.url}/ui/#token=${token}`);
    await good.page.waitForSelector("::-p-aria(Start hello)");
    assertEquals(await good.page.evaluate(() => location.hash), "#/pipelines");
    good.assertNoErrors();

    const proxied = await chromium.open(`${proxy.url}/ui#token=${token}`);
    await proxied.page.waitForSelector("::-p-aria(Start hello)");
    await proxied.page.waitForSelector(".live[data-state=live]");
    assertEquals(await proxied.page.evaluate(() => location.pathname), "/ci/ui/");
    await proxied.page.locator("::-p-aria(Start hello)").click();
    await proxied.text("#job-title", /done/);
    proxied.assertNoErrors();

    const bad = await chromium.open(`${prunner.url}/ui/#token=not.a.token`);
    await bad.page.waitForSelector("textarea#token");
    await bad.page.waitForSelector(".token-screen [role=alert]");
    const notice = await bad.page.$eval(".token-screen [role=alert]", (e) => e.textContent ?? "");
    assert(/refused the token/.test(notice), notice);
    assertEquals(await bad.page.evaluate(() => sessionStorage.getItem("prunner.token")), null);
    const unexpected = bad.errors.filter((e) => !/status of 401/.test(e));
    assertEquals(unexpected, [], "only the expected 401s were reported");
  },
});
