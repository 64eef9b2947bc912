// The import graph of src/ and workers/, read from the files as text: the layering the README describes
// (http → use-cases → queue/store/sources/segments → render → media) holds, no folder imports one that
// imports it back, and nothing in src/ reaches into a process entry.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';

/**
 * A file's folder below src/ ('http', 'render'...) or 'workers'. A module at src/'s top (config.ts,
 * errors.ts, the api.ts/app.ts/server.ts that put the rest together) is a node of its own.
 */
function folderOf(file: string): string {
  const [top, second, third] = path.relative(PROJECT_ROOT, file).split(path.sep);
  if (top === 'workers') return 'workers';
  return third === undefined ? `src/${second}` : (second ?? '');
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => path.join(entry.parentPath, entry.name));
}

/** Every relative import: [importing file, imported file]. */
async function imports(): Promise<Array<[string, string]>> {
  const files = [...(await sourceFiles(path.join(PROJECT_ROOT, 'src'))), ...(await sourceFiles(path.join(PROJECT_ROOT, 'workers')))];
  const edges: Array<[string, string]> = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      edges.push([file, path.resolve(path.dirname(file), match[1]!.replace(/\.js$/, '.ts'))]);
    }
  }
  return edges;
}

/** Folder → the folders it imports from; every folder with a file is a key. */
async function folderEdges(): Promise<Map<string, Set<string>>> {
  const graph = new Map<string, Set<string>>();
  for (const [from, to] of await imports()) {
    const [a, b] = [folderOf(from), folderOf(to)];
    graph.set(a, graph.get(a) ?? new Set());
    graph.set(b, graph.get(b) ?? new Set());
    if (a !== b) graph.get(a)?.add(b);
  }
  return graph;
}

/** Folders each folder must never import, directly: what sits above it. */
const ABOVE: Record<string, string[]> = {
  media: ['render', 'segments', 'sources', 'queue', 'store', 'use-cases', 'http', 'stack', 'cli'],
  render: ['segments', 'sources', 'queue', 'store', 'use-cases', 'http', 'stack', 'cli'],
  segments: ['sources', 'queue', 'store', 'use-cases', 'http', 'stack', 'cli'],
  sources: ['queue', 'store', 'use-cases', 'http', 'stack', 'cli'],
  queue: ['store', 'use-cases', 'http', 'stack', 'cli'],
  store: ['queue', 'use-cases', 'http', 'stack', 'cli'],
  'use-cases': ['http', 'stack', 'cli'],
  http: ['stack', 'cli'],
};

describe('the import graph', () => {
  it('has nothing in src/ importing from workers/', async () => {
    const reaching = (await imports()).filter(([from, to]) => folderOf(from) !== 'workers' && folderOf(to) === 'workers');
    expect(reaching.map(([from]) => path.relative(PROJECT_ROOT, from))).toEqual([]);
  });

  it('has no cycle between folders', async () => {
    const graph = await folderEdges();
    const cycles = new Set<string>();
    const done = new Set<string>();
    // Depth-first search; a folder met again on the current path closes a cycle.
    const visit = (folder: string, trail: string[]) => {
      if (trail.includes(folder)) {
        cycles.add([...trail.slice(trail.indexOf(folder)), folder].join(' → '));
        return;
      }
      if (done.has(folder)) return;
      for (const next of graph.get(folder) ?? []) visit(next, [...trail, folder]);
      done.add(folder);
    };
    for (const folder of graph.keys()) visit(folder, []);
    expect([...cycles]).toEqual([]);
  });

  it('runs one way: no folder imports one above it', async () => {
    const graph = await folderEdges();
    const upward = Object.entries(ABOVE).flatMap(([folder, above]) =>
      [...(graph.get(folder) ?? [])].filter((to) => above.includes(to)).map((to) => `${folder} → ${to}`),
    );
    expect(upward).toEqual([]);
    // The rule has teeth: every folder it names holds modules that take part in the graph.
    for (const folder of Object.keys(ABOVE)) expect(graph.has(folder), folder).toBe(true);
  });

  it('keeps routes apart: no route imports another route', async () => {
    const routes = (await imports()).filter(
      ([from, to]) => from.includes(`${path.sep}routes${path.sep}`) && to.includes(`${path.sep}routes${path.sep}`),
    );
    expect(routes.map(([from, to]) => `${path.basename(from)} → ${path.basename(to)}`)).toEqual([]);
  });
});
