/**
 * Argo CD's health check run by a real Lua 5.1 interpreter (Debian's `lua5.1`; Argo CD embeds
 * gopher-lua, a Lua 5.1). The script is run the way Argo CD runs it: a chunk with the object in
 * the global `obj`, returning a table {status=..., message=...}.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HEALTH_LUA = fileURLToPath(new URL('../../deploy/argocd/health.lua', import.meta.url));
const LUA = process.env.LUA ?? 'lua5.1';

/** A JSON value as a Lua table constructor (JSON null becomes an absent key, as in Argo CD). */
export function luaLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a JSON number: ${v}`);
    return String(v);
  }
  if (typeof v === 'string') {
    return `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^ -~\u0080-\uffff]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`)}"`;
  }
  if (Array.isArray(v)) return `{${v.map(luaLiteral).join(', ')}}`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined);
  return `{${entries.map(([k, x]) => `[${luaLiteral(k)}] = ${luaLiteral(x)}`).join(', ')}}`;
}

const HARNESS = `
obj = dofile(arg[2])
local check = assert(loadfile(arg[1]))
local hs = check()
assert(type(hs) == "table", "the health script must return a table")
io.write(tostring(hs.status), "\\n", tostring(hs.message or ""))
`;

export interface ArgoHealth { status: string; message: string }

/** The result of `script` (default: deploy/argocd/health.lua) for `obj`; throws with the install command if lua5.1 is missing. */
export function argoHealth(obj: unknown, script = HEALTH_LUA): ArgoHealth {
  const dir = mkdtempSync(join(tmpdir(), 'fledge-lua-'));
  try {
    writeFileSync(join(dir, 'harness.lua'), HARNESS);
    writeFileSync(join(dir, 'obj.lua'), `return ${luaLiteral(obj)}\n`);
    const res = spawnSync(LUA, [join(dir, 'harness.lua'), script, join(dir, 'obj.lua')], { encoding: 'utf8', timeout: 10_000 });
    if (res.error && (res.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${LUA} is not installed: the Argo CD health check is tested with a real Lua 5.1; install it with \`apt-get install -y lua5.1\` (or set LUA=/path/to/lua5.1)`);
    }
    if (res.status !== 0) throw new Error(`${LUA} failed (${res.status}): ${res.stderr}`);
    const [status, ...message] = res.stdout.split('\n');
    return { status: status!, message: message.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
