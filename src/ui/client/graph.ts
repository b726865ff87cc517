/**
 * The layout of a job's task graph (tasks as boxes, `depends_on` as arrows), computed with
 * dagre so the screen only draws it.
 *
 * @module
 */
import dagre from "@dagrejs/dagre";

/** A laid out task box; `x`/`y` is its top-left corner. */
export interface GraphNode {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A laid out dependency arrow, from the dependency to the task that waits for it. */
export interface GraphEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

/** A whole laid out graph. */
export interface GraphLayout {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Size of a task box in the graph. */
export const NODE_SIZE = { width: 190, height: 64 };

/**
 * Lays out tasks left to right along their dependencies. Dependencies on tasks that are not in
 * the list are left out.
 *
 * @example
 * ```ts
 * const layout = layoutTasks([{ name: "build" }, { name: "test", dependsOn: ["build"] }]);
 * layout.nodes.find((n) => n.name === "test")!.x > layout.nodes[0].x; // true
 * ```
 */
export function layoutTasks(tasks: readonly { name: string; dependsOn?: string[] }[]): GraphLayout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const names = new Set(tasks.map((task) => task.name));
  for (const task of tasks) graph.setNode(task.name, { ...NODE_SIZE });
  for (const task of tasks) {
    for (const dependency of task.dependsOn ?? []) {
      if (names.has(dependency)) graph.setEdge(dependency, task.name);
    }
  }
  dagre.layout(graph);
  const nodes = tasks.map((task) => {
    const { x, y, width, height } = graph.node(task.name);
    return { name: task.name, x: x - width / 2, y: y - height / 2, width, height };
  });
  const edges = graph.edges().map((edge) => ({
    from: edge.v,
    to: edge.w,
    points: graph.edge(edge).points ?? [],
  }));
  const label = graph.graph();
  return { width: label.width ?? 0, height: label.height ?? 0, nodes, edges };
}
