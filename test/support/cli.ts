/**
 * The real `fledge` binary run as a child process, the way a user runs it: `node bin/fledge.js`
 * on the built dist/, from the repository root.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { requireBuilt } from './built.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'fledge.js');

// Node 24 first on PATH for npx and for the child processes, whatever started vitest.
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
const env = { ...process.env, PATH, FLEDGE_DEBUG: '' };

/**
 * For a test file that runs the CLI: insists on a built dist/ before its tests, and gives it a
 * scratch directory (removed after them) with `file`, which writes a file there and returns its path.
 */
export function cliTestFiles(prefix: string): { dir: string; file: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  beforeAll(requireBuilt);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return { dir, file };
}

export interface Run { code: number | null; stdout: string; stderr: string }

export interface RunOptions {
  /** Written to the child's stdin. */
  input?: string;
  timeoutMs?: number;
}

export function fledge(args: string[], { input, timeoutMs = 20_000 }: RunOptions = {}): Run {
  const res = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, env, encoding: 'utf8', timeout: timeoutMs, ...(input !== undefined ? { input } : {}) });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The non-empty lines of a child's output. */
export const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** A user never sees a stack trace, on either stream. */
export function expectNoStackTrace(run: Run): void {
  expect(run.stderr).not.toContain('    at ');
  expect(run.stdout).not.toContain('    at ');
  expect(run.stderr).not.toMatch(/\b(TypeError|ReferenceError|SyntaxError|RangeError):/);
}

/** The CLI run in the background (a `status --watch` that waits for a release), resolved when it exits. */
export function fledgeAsync(args: string[], { timeoutMs = 120_000 }: RunOptions = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
