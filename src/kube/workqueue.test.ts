import { describe, expect, it } from 'vitest';
import { WorkQueue, type Lane, type QueueHandler } from './workqueue.ts';

type Op = [string, Lane?];

/** Adds the keys, then lets one worker drain the queue; the order keys were processed in. */
async function order(ops: Op[], handler?: (key: string, q: WorkQueue) => void): Promise<string[]> {
  const q = new WorkQueue();
  for (const [key, lane] of ops) q.add(key, lane);
  const seen: string[] = [];
  const running = q.run(1, async (key) => {
    seen.push(key);
    handler?.(key, q);
  });
  await q.drained();
  q.shutDown();
  await running;
  return seen;
}

describe('WorkQueue lanes', () => {
  it.each<[string, Op[], string[]]>([
    ['one lane is FIFO', [['a'], ['b'], ['c']], ['a', 'b', 'c']],
    ['duplicates merge, the first position counts', [['a'], ['b'], ['a'], ['c'], ['b']], ['a', 'b', 'c']],
    ['now goes before background', [['a', 'background'], ['b', 'background'], ['c', 'now']], ['c', 'a', 'b']],
    ['background keeps its order behind now', [['x', 'background'], ['y', 'background'], ['z', 'background'], ['n1'], ['n2']], ['n1', 'n2', 'x', 'y', 'z']],
    ['a background key woken by a change moves up, and runs once', [['a', 'background'], ['b', 'background'], ['b', 'now']], ['b', 'a']],
    ['a sweep does not demote a key already waiting in now', [['a', 'background'], ['b', 'now'], ['b', 'background']], ['b', 'a']],
    ['the default lane is now', [['a', 'background'], ['b']], ['b', 'a']],
  ])('%s', async (_what, ops, expected) => {
    expect(await order(ops)).toEqual(expected);
  });

  it('a change that arrives while the backlog drains jumps it', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `bg-${i}`);
    const seen = await order(keys.map((k) => [k, 'background']), (key, q) => {
      if (key === 'bg-10') q.add('bg-90', 'now');
    });
    expect(seen.indexOf('bg-90')).toBe(11);
    expect(seen.filter((k) => k === 'bg-90')).toHaveLength(1);
    expect(seen).toHaveLength(100);
  });

  it('an add while the key is processing runs it again once, in the earlier of the lanes asked', async () => {
    let first = true;
    const seen = await order([['a'], ['b', 'background'], ['c', 'background']], (key, q) => {
      if (key === 'a' && first) {
        first = false;
        q.add('a', 'background');
        q.add('a', 'now');
        q.add('a', 'background');
      }
    });
    expect(seen).toEqual(['a', 'a', 'b', 'c']);
  });
});

describe('WorkQueue guarantees', () => {
  it('never runs one key on two workers at once', async () => {
    const q = new WorkQueue();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const handler: QueueHandler = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      running--;
    };
    const workers = q.run(4, handler);
    q.add('k');
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 10; i++) q.add('k', i % 2 === 0 ? 'now' : 'background');
    await new Promise((r) => setTimeout(r, 100));
    await q.drained();
    q.shutDown();
    await workers;
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('keeps the earliest of several delayed adds, and an add cancels the delay', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 60_000);
    q.addAfter('k', 20);
    q.addAfter('k', 30_000);
    expect(q.delayedCount()).toBe(1);
    const seen: number[] = [];
    const t0 = performance.now();
    const workers = q.run(1, async () => { seen.push(performance.now() - t0); });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThanOrEqual(15);
    q.addAfter('j', 60_000);
    q.add('j', 'background');
    expect(q.delayedCount()).toBe(0);
    await q.drained();
    q.shutDown();
    await workers;
    expect(seen).toHaveLength(2);
  });

  it('backs off a failing key, doubling, and forgets the failures after a success', async () => {
    const retries: number[] = [];
    let calls = 0;
    const q = new WorkQueue({ baseBackoffMs: 10, maxBackoffMs: 40, onError: (_k, _e, ms) => retries.push(ms) });
    const workers = q.run(1, async () => {
      calls++;
      if (calls <= 4) throw new Error('boom');
    });
    q.add('k');
    const deadline = Date.now() + 5000;
    while (calls < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    q.shutDown();
    await workers;
    expect(retries).toEqual([10, 20, 40, 40]);
    expect(calls).toBe(5);
  });

  it('counts waiting keys once, whatever their lanes', () => {
    const q = new WorkQueue();
    q.add('a', 'background');
    q.add('a', 'now');
    q.add('b', 'background');
    expect(q.depth()).toBe(2);
    q.shutDown();
  });
});

describe('WorkQueue metrics (client-go\'s workqueue terms)', () => {
  it('counts adds once per stay in the queue, depth, waits, work and retries', async () => {
    const seen = { added: 0, depths: [] as number[], waited: [] as number[], worked: [] as number[], retried: 0 };
    const q = new WorkQueue({
      baseBackoffMs: 1,
      metrics: {
        added: () => { seen.added++; },
        depth: (n) => { seen.depths.push(n); },
        waited: (s) => { seen.waited.push(s); },
        worked: (s) => { seen.worked.push(s); },
        retried: () => { seen.retried++; },
      },
    });
    q.add('a');
    q.add('a');
    q.add('b', 'background');
    q.add('b', 'now');
    expect(seen.added).toBe(2);
    expect(seen.depths).toEqual([1, 2]);
    let failures = 0;
    const running = q.run(1, async (key) => {
      if (key === 'a' && failures++ === 0) throw new Error('once');
    });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('a was not retried')), 5_000);
      const poll = setInterval(() => {
        if (seen.worked.length >= 3) { clearTimeout(deadline); clearInterval(poll); resolve(); }
      }, 5);
    });
    await q.drained();
    q.shutDown();
    await running;
    // a, b, then a again after its failure: three takes, three pieces of work, one retry.
    expect(seen.retried).toBe(1);
    expect(seen.added).toBe(3);
    expect(seen.waited).toHaveLength(3);
    expect(seen.worked).toHaveLength(3);
    for (const s of [...seen.waited, ...seen.worked]) expect(s).toBeGreaterThanOrEqual(0);
    expect(seen.depths.at(-1)).toBe(0);
  });
});
