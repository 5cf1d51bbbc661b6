/**
 * The kubeconfig as kubectl finds it: --kubeconfig, else $KUBECONFIG (missing files skipped),
 * else ~/.kube/config; --context picks another context; and a plain error when there is none.
 * Real files in a scratch directory; the environment is passed in, never the test runner's own.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeConfigError } from '../../src/kube/errors.ts';
import { NO_KUBECONFIG, contextNamespace, loadKubeConfig } from '../../src/kube/kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'fledge-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, contexts: { name: string; namespace?: string }[], current?: string): string {
  const path = join(dir, name);
  writeFileSync(path, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: 'c', user: 'u', ...(c.namespace ? { namespace: c.namespace } : {}) } })),
    ...(current ? { 'current-context': current } : {}),
  }));
  return path;
}

const home = join(dir, 'home');
mkdirSync(join(home, '.kube'), { recursive: true });
const noHome = join(dir, 'nohome');
const two = config('two.yaml', [{ name: 'dev' }, { name: 'prod', namespace: 'shop' }], 'dev');
const other = config('other.yaml', [{ name: 'lab' }], 'lab');
writeFileSync(join(home, '.kube', 'config'), stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [{ name: 'home', context: { cluster: 'x', user: 'y' } }], 'current-context': 'home' }));

describe('loadKubeConfig', () => {
  it.each<[string, Parameters<typeof loadKubeConfig>[0], string, string]>([
    ['--kubeconfig wins over $KUBECONFIG', { file: two, env: { KUBECONFIG: other, HOME: home } }, 'dev', 'default'],
    ['--context picks another context, with its namespace', { file: two, context: 'prod', env: { HOME: noHome } }, 'prod', 'shop'],
    ['$KUBECONFIG: missing files skipped, the first file\'s current context wins', { env: { KUBECONFIG: [join(dir, 'gone.yaml'), other, two].join(delimiter), HOME: home } }, 'lab', 'default'],
    ['$KUBECONFIG files are merged: a context of the second', { context: 'prod', env: { KUBECONFIG: [other, two].join(delimiter), HOME: noHome } }, 'prod', 'shop'],
    ['~/.kube/config without $KUBECONFIG', { env: { HOME: home } }, 'home', 'default'],
  ])('%s', (_name, opts, context, namespace) => {
    const kc = loadKubeConfig(opts);
    expect(kc.getCurrentContext()).toBe(context);
    expect(contextNamespace(kc)).toBe(namespace);
  });

  it.each<[string, Parameters<typeof loadKubeConfig>[0], string]>([
    ['nothing at all', { env: { HOME: noHome } }, NO_KUBECONFIG],
    ['$KUBECONFIG naming only missing files', { env: { KUBECONFIG: join(dir, 'gone.yaml'), HOME: noHome } }, NO_KUBECONFIG],
    ['--kubeconfig that does not exist', { file: join(dir, 'gone.yaml'), env: { HOME: home } }, `--kubeconfig ${join(dir, 'gone.yaml')}: no such file`],
    ['an unknown --context', { file: two, context: 'staging', env: {} }, 'context "staging" is not in the kubeconfig (contexts: dev, prod)'],
    ['no current context', { file: config('nocurrent.yaml', [{ name: 'a' }]), env: {} }, 'the kubeconfig has no current context; pass --context (contexts: a)'],
  ])('%s: a KubeConfigError that says so', (_name, opts, message) => {
    expect(() => loadKubeConfig(opts)).toThrow(new KubeConfigError(message));
  });
});
