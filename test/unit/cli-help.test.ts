/**
 * Help everywhere, and README true to it: the built CLI is run as a user runs it. Every command's
 * `--help` exits 0 and names each of its flags, and README's command table and controller flag
 * table name exactly the commands and flags that `--help` prints.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestFiles, fledge } from '../support/cli.ts';
import { REPO } from './fixtures.ts';

cliTestFiles('fledge-help-');

const top = fledge(['--help']);
/** Command names as `fledge --help` lists them (`list|ls` is list). */
const commands = [...top.stdout.slice(top.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z]+)[|\s]/gm)].map((m) => m[1]!).filter((c) => c !== 'help');

/** The flags a help text names in its Options section: `-o, --output <format>` gives -o and --output. */
function helpFlags(help: string): string[] {
  const start = help.indexOf('Options:');
  const end = help.indexOf('\n\n', start);
  const options = help.slice(start, end < 0 ? undefined : end);
  return [...options.matchAll(/^ {2}(-\w, )?(--[a-z-]+)/gm)].flatMap((m) => [m[1]?.slice(0, 2), m[2]!]).filter((f): f is string => f !== undefined);
}

const readme = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The rows of the first Markdown table after a heading, as cells. */
function tableAfter(heading: string): string[][] {
  const from = readme.indexOf(heading);
  expect(from, heading).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of readme.slice(from).split('\n').slice(1)) {
    if (line.startsWith('|')) rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
    else if (rows.length > 0) break;
  }
  return rows.slice(2); // the header and its --- line
}

describe('fledge --help', () => {
  it('exits 0 and lists the commands', () => {
    expect(top.code).toBe(0);
    expect(commands).toEqual(expect.arrayContaining(['render', 'validate', 'list', 'status', 'promote', 'abort', 'pause', 'resume', 'retry', 'controller', 'demo', 'completion']));
  });
});

describe.each(['render', 'validate', 'list', 'status', 'promote', 'abort', 'pause', 'resume', 'retry', 'controller', 'demo', 'completion'])('fledge %s --help', (cmd) => {
  const run = fledge([cmd, '--help']);

  it('exits 0 with a usage line, the flags and examples', () => {
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(new RegExp(`^Usage: fledge ${cmd}( |\\|)`));
    expect(run.stdout).toContain('Options:');
    expect(run.stdout).toContain('-h, --help');
    expect(run.stdout).toContain('Examples:');
  });

  it('is what `fledge help CMD` prints too', () => {
    const viaHelp = fledge(['help', cmd]);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(run.stdout);
  });

  it('names kubectl\'s cluster flags when it reaches a cluster', () => {
    const flags = helpFlags(run.stdout);
    if (['render', 'validate', 'demo', 'completion'].includes(cmd)) expect(flags).not.toContain('--context');
    else expect(flags).toEqual(expect.arrayContaining(['-n', '--namespace', '--context', '--kubeconfig']));
    if (cmd === 'list') expect(flags).toEqual(expect.arrayContaining(['-A', '--all-namespaces', '-o', '--output']));
    if (cmd === 'status') expect(flags).toEqual(expect.arrayContaining(['-o', '--output', '-w', '--watch', '-t', '--timeout']));
  });
});

describe("README's command table (Operating a Rollout)", () => {
  const rows = tableAfter('## Operating a Rollout').map(([usage]) => usage!.replace(/`/g, '').replace(/\\\|/g, '|'));

  it('has a row for every command of `fledge --help`, and no other', () => {
    const named = new Set(rows.map((r) => r.split(' ')[1]!));
    expect([...named].sort()).toEqual([...commands].sort());
  });

  it.each(rows.map((r) => [r]))('%s: every flag it names is in that command\'s --help', (row) => {
    const cmd = row.split(' ')[1]!;
    const flags = helpFlags(fledge([cmd, '--help']).stdout);
    const named = [...row.matchAll(/(?<=[\s[|])(--?[a-zA-Z][a-z-]*)/g)].map((m) => m[1]!);
    expect(named.filter((f) => !flags.includes(f))).toEqual([]);
  });
});

describe("README's controller flag table (Running the controller)", () => {
  it('names exactly the flags of `fledge controller --help`', () => {
    const help = helpFlags(fledge(['controller', '--help']).stdout).filter((f) => f.startsWith('--') && f !== '--help');
    const table = tableAfter('## Running the controller').flatMap(([flag]) => [...flag!.matchAll(/`(--[a-z-]+)/g)].map((m) => m[1]!));
    expect([...new Set(table)].sort()).toEqual([...help].sort());
  });
});
