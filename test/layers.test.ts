// The tree's layers (ARCHITECTURE.md): every import in src/ runs down
// domain → store → service → transport → app, never back up, and no module
// imports itself through others (no circle, type-only imports included).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../src");

/** Each top-level part of src/ and its rank: a module may import only from a lower rank (or its own part). */
const RANKS: Record<string, number> = {
  domain: 0,
  config: 1,
  client: 1,
  observe: 2,
  auth: 2,
  cli: 2,
  store: 3,
  service: 4,
  transport: 5,
  app: 6,
  main: 7,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) ? [path] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const files = sources(SRC);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\("(\.[^"]+)"\)/g)]
      .map((m) => normalize(join(dirname(file), (m[1] ?? m[2])!)).replace(/\.js$/, ".ts"))
      .filter((t) => known.has(t));
    graph.set(file, targets);
  }
  return graph;
}

const part = (file: string) => relative(SRC, file).split("/")[0]!.replace(/\.tsx?$/, "");
const name = (file: string) => relative(SRC, file);

it("has every part of src/ in a layer", () => {
  const parts = new Set([...importGraph().keys()].map(part));
  expect([...parts].filter((p) => RANKS[p] === undefined)).toEqual([]);
});

it("has no import running back up the layers", () => {
  const upward: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) {
      const from = part(file);
      const to = part(target);
      if (from !== to && RANKS[to]! >= RANKS[from]!) upward.push(`${name(file)} -> ${name(target)}`);
    }
  }
  expect(upward).toEqual([]);
});

it("has no circle of imports", () => {
  const graph = importGraph();
  // Tarjan's strongly connected components: any component of more than one module is a circle.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(name(w));
    } while (w !== v);
    if (component.length > 1) circles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  expect(circles).toEqual([]);
});
