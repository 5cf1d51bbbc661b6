/**
 * What npm test and the CLI check about the machine, before anything slow.
 * - Node.js: both gates hold package.json's "engines" (22.12, commander's). bin/fledge.js (every
 *   fledge command) refuses an older one in one line, run here under a preload that makes
 *   `process.versions.node` say the version under test; test/setup.sh (npm's pretest) refuses one
 *   first, naming the version and the fix, run with a stand-in `node` that reports the version
 *   under test. A Node that passes goes on to the next check, made to fail (LUA names no program,
 *   and no kube-apiserver is cached) so that nothing gets built.
 * - kubectl 1.27+ (the manifest tests' `kubectl kustomize` of deploy/): missing or too old.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SETUP = new URL('../../test/setup.sh', import.meta.url).pathname;
const ENGINES = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as
  { engines: { node: string } }).engines.node;

const BIN = new URL('../../bin/fledge.js', import.meta.url).pathname;

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * test/setup.sh under a stand-in `node` that reports `version` when asked for it (and is the real
 * Node otherwise); `env` adds to a PATH of the stand-ins and the system's directories.
 */
function runSetup(version: string, env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fledge-setup-'));
  dirs.push(dir);
  script(dir, 'node', [
    `if [ "$1" = --version ]; then echo v${version}; exit 0; fi`,
    `if [ "$1" = -p ] && [ "$2" = process.versions.node ]; then echo ${version}; exit 0; fi`,
    `exec ${JSON.stringify(process.execPath)} "$@"`,
  ].join('\n'));
  const r = spawnSync('bash', [SETUP], {
    encoding: 'utf8',
    env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir, LUA: 'no-such-lua', FLEDGE_CACHE_DIR: join(dir, 'cache'), ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

const runWithNode = (version: string) => runSetup(version);

function fledgeUnderNode(version: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fledge-node-'));
  dirs.push(dir);
  const preload = join(dir, 'version.mjs');
  writeFileSync(preload, `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: ${JSON.stringify(version)} } });\n`);
  const r = spawnSync(process.execPath, ['--import', preload, BIN, '--version'], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bin/fledge.js: the Node.js version', () => {
  it.each(['20.19.0', '22.11.0'])('refuses Node.js %s in one line', (v) => {
    const r = fledgeUnderNode(v);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`fledge: Node.js 22.12 or newer is required (this is ${v})\n`);
  });

  it.each(['22.12.0', '24.0.0'])('runs under Node.js %s', (v) => {
    const r = fledgeUnderNode(v);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('test/setup.sh: the Node.js version', () => {
  it('package.json asks for 22.12 or newer, which the check enforces', () => {
    expect(ENGINES).toBe('>=22.12');
  });

  it.each(['18.20.4', '20.19.0', '22.0.0', '22.11.0'])('refuses Node.js %s, naming it and the fix', (v) => {
    const r = runWithNode(v);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Node.js 22.12 or newer is needed (this is v${v})`);
    expect(r.stderr).toContain('fix: npm install');
  });

  it.each(['22.12.0', '23.1.0', '24.11.1'])('lets Node.js %s through to the next check', (v) => {
    const r = runWithNode(v);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^test setup: /);
    expect(r.stderr).not.toContain('Node.js');
  });
});

describe('test/setup.sh: kubectl, for the manifest tests', () => {
  // Past the Node, Lua (sh stands in) and git checks: git is a prerequisite of npm test already.
  function withKubectl(minor: string | undefined): { status: number | null; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), 'fledge-kubectl-'));
    dirs.push(dir);
    const kubectl = minor === undefined ? join(dir, 'no-such-kubectl')
      : script(dir, 'kubectl', `echo '{"clientVersion": {"major": "1", "minor": "${minor}"}}'`);
    return runSetup('24.0.0', { LUA: 'sh', KUBECTL: kubectl });
  }

  it.each([[undefined], ['26'], ['']])('refuses a missing or older kubectl (minor %s), saying what it is for', (minor) => {
    const r = withKubectl(minor);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('test setup: kubectl 1.27 or newer is needed (the manifest tests render deploy/ with kubectl kustomize)');
  });
});
