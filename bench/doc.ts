/**
 * docs/benchmarks.md, shared by the benchmarks: each writes its own "## " section of the file and
 * keeps the others.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

/**
 * Replaces the section of `path` that starts at `heading` (up to the next "## " heading) with
 * `text`, or appends `text` when there is no such section (a missing file reads as "# Benchmarks").
 * With `keep`, the old section's hand-written part from the line `keep` up to that next heading
 * stays, after `text`.
 */
export function writeDocSection(path: string, heading: string, text: string, keep?: string): void {
  let current: string;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = '# Benchmarks\n';
  }
  const start = current.indexOf(heading);
  let next: string;
  if (start < 0) {
    next = `${current.trimEnd()}\n\n${text.trimEnd()}\n`;
  } else {
    const after = current.slice(start + heading.length);
    const m = after.search(/^## /m);
    const end = m < 0 ? current.length : start + heading.length + m;
    const old = current.slice(start, end);
    const k = keep === undefined ? -1 : old.indexOf(keep);
    const kept = k >= 0 ? `\n${old.slice(k).trimEnd()}\n` : '';
    next = `${current.slice(0, start)}${text.trimEnd()}\n${kept}${m < 0 ? '' : `\n${current.slice(end)}`}`;
  }
  writeFileSync(path, `${next.trimEnd()}\n`);
}

/** The machine a benchmark ran on: "2 CPUs (nproc), <model>[, 24 GB RAM], Node v24.x". */
export function machineLine(opts: { ram?: boolean } = {}): string {
  const ram = opts.ram ? `, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM` : '';
  return `${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}${ram}, Node ${process.version}`;
}
