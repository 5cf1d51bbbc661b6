/**
 * What the container image holds, checked without a Docker engine: the build context has what
 * the Dockerfile copies, and production dependencies plus the built output run the CLI.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { requireBuilt } from '../support/built.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fledge-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('the Dockerfile uses a current Node LTS, copies only what the context has, and runs as non-root', () => {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
  for (const image of froms) expect(image).toMatch(/^node:(22|24)[.-]/);
  const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
  for (const path of copied) {
    expect(existsSync(join(REPO, path)), `${path} is copied by the Dockerfile`).toBe(true);
    expect(ignored, `${path} must not be in .dockerignore`).not.toContain(path);
  }
  expect(dockerfile).toMatch(/^USER (?!0|root)\S+/m);
  expect(dockerfile).toContain('npm ci --omit=dev');
  expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/fledge.js"\]/m);
});

it('npm ci --omit=dev plus the built output runs `fledge --version`', () => {
  requireBuilt();
  for (const path of ['package.json', 'package-lock.json', 'bin', 'dist', 'crds']) cpSync(join(REPO, path), join(dir, path), { recursive: true });
  const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 170_000, env: { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}` } });
  expect(install.status, install.stderr).toBe(0);
  // No dev dependency made it in.
  expect(existsSync(join(dir, 'node_modules', 'vitest'))).toBe(false);
  expect(existsSync(join(dir, 'node_modules', 'typescript'))).toBe(false);
  const version = spawnSync(process.execPath, ['bin/fledge.js', '--version'], { cwd: dir, encoding: 'utf8' });
  expect(version.status, version.stderr).toBe(0);
  expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
  const render = spawnSync(process.execPath, ['bin/fledge.js', 'render', '-f', join(REPO, 'examples', 'staff-safe-risky.yaml')], { cwd: dir, encoding: 'utf8' });
  expect(render.status, render.stderr).toBe(0);
  expect(render.stdout).toContain('kind: VirtualService');
}, 180_000);
