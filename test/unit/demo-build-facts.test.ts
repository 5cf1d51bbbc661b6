/**
 * What `fledge demo` says building the local control plane needs is what test/cluster/go.mod and
 * README say: the Go version is go.mod's `go` directive, README's prerequisites name the same.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTROL_PLANE_BUILD_TIME, GO_NEEDED } from '../../src/cli/demo/build-facts.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the demo\'s build prerequisites', () => {
  it('names the Go of test/cluster/go.mod and test/helm/go.mod', () => {
    for (const mod of ['test/cluster/go.mod', 'test/helm/go.mod']) {
      const directive = /^go (\d+\.\d+)(?:\.\d+)?$/m.exec(read(mod));
      expect(directive?.[1], mod).toBe(GO_NEEDED);
    }
  });

  it('README names the same Go and the measured worst case the demo quotes', () => {
    const readme = read('README.md');
    expect(readme).toContain(`- Go ${GO_NEEDED}+ (`);
    expect(CONTROL_PLANE_BUILD_TIME).toContain('45');
    expect(readme).toMatch(/up to 45 min at load/);
  });
});
