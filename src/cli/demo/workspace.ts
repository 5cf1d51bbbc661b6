/**
 * The demo's temp dir. Everything the local servers write lives under it, so removing it (and
 * any process whose command line names it) is a complete cleanup, even after a demo that was
 * killed with SIGKILL and could not clean up itself: the next demo does it.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../devenv/child.ts';

const PREFIX = 'fledge-demo-';
const OWNER_FILE = 'owner.pid';

export async function createWorkspace(): Promise<string> {
  await sweepStaleWorkspaces();
  const dir = await mkdtemp(join(tmpdir(), PREFIX));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

export async function removeWorkspace(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Pids of the processes whose command line contains `text` (Linux; none elsewhere). */
export function processesMentioning(text: string): number[] {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}


async function sweepStaleWorkspaces(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    for (const pid of processesMentioning(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** For the 'exit' hook: it must be synchronous. */
export function removeWorkspaceSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
