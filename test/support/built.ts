import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(REPO, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Tests that run the real `fledge` binary need dist/ built from today's sources. They never build
 * it themselves: a rebuild while another test file's controller is loading dist/ would race.
 * `npm test` builds first.
 */
export function requireBuilt(): void {
  let built: number;
  try {
    built = statSync(MAIN).mtimeMs;
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests');
  }
  if (newestSource(join(REPO, 'src')) > built) throw new Error('dist/ is older than src/: run `npm run build` (npm test does) before these tests');
}
