/**
 * The completion scripts, run by the shells themselves against the built CLI (the Rollout names
 * from a live API server are in test/integration/cli-kubectl.test.ts). zsh and fish are checked
 * where they are installed; bash always is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliTestFiles, fledge, lines } from '../support/cli.ts';
import { REPO } from './fixtures.ts';

const { dir, file } = cliTestFiles('fledge-shells-');
const bin = join(dir, 'bin');
mkdirSync(bin, { recursive: true });
writeFileSync(join(bin, 'fledge'), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO, 'bin', 'fledge.js')}" "$@"\n`, { mode: 0o755 });
const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
const has = (shell: string) => existsSync(`/usr/bin/${shell}`) || existsSync(`/bin/${shell}`);

describe('bash', () => {
  const bashComplete = (words: string[]) => {
    const script = file('fledge.bash', fledge(['completion', 'bash']).stdout);
    const probe = `source ${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}\n_fledge_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', probe], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return lines(r.stdout);
  };

  it.each<[string[], string[]]>([
    [['fledge', 'sta'], ['status']],
    [['fledge', 'list', '-o', ''], ['json', 'yaml', 'wide', 'name']],
    [['fledge', 'completion', 'z'], ['zsh']],
    [['fledge', 'status', '--ti'], ['--timeout']],
  ])('%j completes to %j', (words, expected) => {
    expect(bashComplete(words)).toEqual(expected);
  });
});

describe.skipIf(!has('zsh'))('zsh (where installed)', () => {
  it('the script parses', () => {
    const script = file('_fledge', fledge(['completion', 'zsh']).stdout);
    const r = spawnSync('zsh', ['-n', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe.skipIf(!has('fish'))('fish (where installed)', () => {
  it.each<[string, string[]]>([
    ['fledge sta', ['status']],
    ['fledge status x -o ', ['json', 'wide', 'yaml']],
  ])('%j completes to %j', (line, expected) => {
    const script = file('fledge.fish', fledge(['completion', 'fish']).stdout);
    const r = spawnSync('fish', ['-c', `source ${script}; complete -C '${line}'`], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(lines(r.stdout).map((l) => l.split('\t')[0])).toEqual(expected);
  });
});
