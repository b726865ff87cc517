/**
 * Browser test support: headless Chromium (Debian's `chromium` package, or `$CHROMIUM`) driven
 * by puppeteer-core, with every page error and console error collected so a test fails with
 * the page's own message.
 *
 * @module
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { waitFor } from "../app/support.ts";

/** The Chromium binary the browser tests drive. */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** A page whose errors are collected. */
export interface TestPage {
  page: Page;
  /** Page errors and console errors seen so far. */
  errors: string[];
  /** Fails with the collected errors, if any. */
  assertNoErrors(): void;
  /** Polls `check` in the test (not the page); fails at once on a page error. */
  until<T>(what: string, check: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
  /** Waits until the element matching `selector` has text matching `pattern`; returns it. */
  text(selector: string, pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** A running headless Chromium. */
export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
  open(url: string): Promise<TestPage>;
}

/** Starts headless Chromium; fails with a hint when it is not installed. */
export async function startBrowser(): Promise<TestBrowser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium package (.ci/run does) or set $CHROMIUM`,
    );
  }
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  return {
    browser,
    async open(url) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(`page error: ${String(error)}`));
      page.on("console", (message) => {
        if (message.type() === "error") {
          const where = message.location()?.url ?? "";
          errors.push(`console error: ${message.text()}${where ? ` (${where})` : ""}`);
        }
      });
      await page.goto(url);
      const assertNoErrors = () => {
        if (errors.length > 0) throw new Error(`the page reported errors:\n${errors.join("\n")}`);
      };
      const until: TestPage["until"] = (what, check, timeoutMs = 30_000) =>
        waitFor(what, () => {
          assertNoErrors();
          return check();
        }, timeoutMs);
      return {
        page,
        errors,
        assertNoErrors,
        until,
        async text(selector, pattern, timeoutMs) {
          let last = "(nothing)";
          try {
            return await until(`${selector} to show ${pattern}`, async () => {
              last = await page.$eval(selector, (e) => e.textContent ?? "").catch(() => last);
              return pattern.test(last) ? last : null;
            }, timeoutMs);
          } catch (error) {
            if (errors.length > 0) throw error;
            throw new Error(`${(error as Error).message}; it shows: ${last.slice(-500)}`);
          }
        },
      };
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}
