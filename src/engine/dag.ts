/**
 * Dependency graph helpers shared by definition validation and job creation.
 *
 * @module
 */

/** A node and the names it depends on. */
export interface DagNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

/** Result of {@linkcode topologicalOrder}: the order, or the nodes of one cycle. */
export type TopologicalResult =
  | { readonly ok: true; readonly order: string[] }
  | { readonly ok: false; readonly cycle: string[] };

/**
 * Orders nodes so every node comes after its dependencies; among nodes that are ready at the
 * same time, names sort first. Dependencies that name no node are ignored (validation reports
 * them separately).
 *
 * @example
 * ```ts
 * topologicalOrder([{ name: "b", dependsOn: ["a"] }, { name: "a", dependsOn: [] }]);
 * // { ok: true, order: ["a", "b"] }
 * ```
 */
export function topologicalOrder(nodes: readonly DagNode[]): TopologicalResult {
  const names = new Set(nodes.map((n) => n.name));
  const pending = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const node of nodes) {
    const deps = new Set(node.dependsOn.filter((d) => names.has(d)));
    pending.set(node.name, deps.size);
    for (const dep of deps) {
      const list = dependents.get(dep);
      if (list) list.push(node.name);
      else dependents.set(dep, [node.name]);
    }
  }
  const ready = [...pending].filter(([, n]) => n === 0).map(([name]) => name).sort();
  const order: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    order.push(name);
    for (const dependent of dependents.get(name) ?? []) {
      const left = pending.get(dependent)! - 1;
      pending.set(dependent, left);
      if (left === 0) insertSorted(ready, dependent);
    }
  }
  if (order.length === nodes.length) return { ok: true, order };
  return { ok: false, cycle: findCycle(nodes, names, new Set(order)) };
}

function insertSorted(list: string[], value: string): void {
  let i = 0;
  while (i < list.length && list[i] < value) i++;
  list.splice(i, 0, value);
}

/** Walks dependencies from an unordered node until a name repeats: that loop is a cycle. */
function findCycle(nodes: readonly DagNode[], names: Set<string>, ordered: Set<string>): string[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const start = [...names].filter((n) => !ordered.has(n)).sort()[0];
  const path: string[] = [];
  const seen = new Map<string, number>();
  let current = start;
  while (!seen.has(current)) {
    seen.set(current, path.length);
    path.push(current);
    const next = byName.get(current)!.dependsOn.filter((d) => names.has(d) && !ordered.has(d))
      .sort()[0];
    current = next;
  }
  return path.slice(seen.get(current)!);
}
