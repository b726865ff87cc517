/**
 * The layering that docs/architecture.md describes, checked on the source: the lower layers
 * never import the upper ones, and no module imports itself back through others.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "./assert.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SRC = join(ROOT, "src");

/** Layers that act on decisions and must not reach up to those who make or serve them. */
const LOWER = ["src/engine/", "src/store/", "src/executor/"];
/** What the lower layers must not import. */
const UPPER = ["src/runner/", "src/server/", "src/app/", "src/app.ts", "src/cli/", "src/ui/"];

/** Relative module specifiers of `import`, `export … from` and `import()` in a source text. */
function relativeImports(source: string): string[] {
  const found: string[] = [];
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;
  for (const match of code.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** Every TypeScript module under `src/`, by path relative to the repository, with its imports. */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".gen.ts")) {
        const imports = relativeImports(await Deno.readTextFile(path))
          .map((specifier) => relative(ROOT, join(dir, specifier)));
        graph.set(relative(ROOT, path), imports);
      }
    }
  };
  await walk(SRC);
  return graph;
}

/** The import cycles of a graph, each as the path of modules that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (module: string) => {
    state.set(module, "open");
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module);
  return found;
}

Deno.test("relativeImports finds static, re-export and dynamic imports", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type { B } from "../b/b.ts";',
    'export { c } from "./c.ts";',
    'const d = await import("./d.ts");',
    'import { e } from "hono";',
    '/** import { f } from "./f.ts"; */',
    '// import { g } from "./g.ts";',
  ].join("\n");
  assertEquals(relativeImports(source), ["./a.ts", "../b/b.ts", "./c.ts", "./d.ts"]);
});

Deno.test("cycles reports a circle of modules and nothing for a tree", () => {
  const tree = new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]);
  assertEquals(cycles(tree), []);
  const circle = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]]);
  assertEquals(cycles(circle), [["a", "b", "c", "a"]]);
});

Deno.test("engine, store and executor import nothing from runner, server or above", async () => {
  const upward: string[] = [];
  for (const [module, imports] of await importGraph()) {
    if (!LOWER.some((layer) => module.startsWith(layer))) continue;
    for (const target of imports) {
      if (UPPER.some((layer) => target.startsWith(layer))) upward.push(`${module} → ${target}`);
    }
  }
  assertEquals(upward, []);
});

Deno.test("no module of src/ imports itself back through others", async () => {
  const found = cycles(await importGraph()).map((cycle) => cycle.join(" → "));
  assertEquals(found, []);
});
