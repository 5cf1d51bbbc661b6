import { readFile } from 'node:fs/promises';
import { isScalar, parseAllDocuments } from 'yaml';
import { parseRollout, type Problem } from '../api/validate.ts';
import type { Rollout } from '../api/schema.ts';
import { UsageError } from './usage-error.ts';

export { UsageError };

export interface LoadedDocument {
  /** How to name the document in messages: `rollout.yaml` or `rollout.yaml#2`. */
  label: string;
  rollout?: Rollout;
  problems: Problem[];
}

export async function readInput(file: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Every YAML document of a file, parsed and validated as a Rollout; never throws on content. */
export function loadRollouts(file: string, text: string): LoadedDocument[] {
  // An empty document (a trailing `---`, as generators and GitOps tools write) is no document at
  // all, as kubectl sees it; the yaml library parses it to a null scalar.
  const docs = parseAllDocuments(text, { uniqueKeys: true })
    .filter((d) => d.errors.length > 0 || !(d.contents === null || (isScalar(d.contents) && d.contents.value === null)));
  if (docs.length === 0) return [{ label: file, problems: [{ path: '(document)', message: 'the file holds no YAML document' }] }];
  return docs.map((doc, i) => {
    const label = docs.length > 1 ? `${file}#${i + 1}` : file;
    if (doc.errors.length > 0) {
      return { label, problems: doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: `broken YAML: ${firstLine(e.message)}` })) };
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // An alias bomb, for one: refused by the parser, reported like any other problem.
      return { label, problems: [{ path: '(document)', message: `cannot read YAML: ${firstLine(e instanceof Error ? e.message : String(e))}` }] };
    }
    const kind = (value as { kind?: unknown } | null)?.kind;
    if (typeof value === 'object' && value !== null && kind !== undefined && kind !== 'Rollout') {
      return { label, problems: [{ path: 'kind', message: `must be Rollout (got ${JSON.stringify(kind)})` }] };
    }
    const parsed = parseRollout(value);
    return parsed.ok ? { label, rollout: parsed.rollout, problems: [] } : { label, problems: parsed.problems };
  });
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
