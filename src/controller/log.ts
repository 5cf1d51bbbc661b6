import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../kube/log.ts';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** JSON logs on stdout, one object per line, with key/value pairs; LOG_LEVEL picks the level. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger & { level: string } {
  const lvl = LEVELS.has(level) ? level : 'info';
  const base = pino({ level: lvl, base: { component: 'fledge' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } });
  return { level: lvl, ...wrap(base) };
}

function wrap(p: PinoLogger): Logger {
  return {
    debug: (o, m) => p.debug(o, m),
    info: (o, m) => p.info(o, m),
    warn: (o, m) => p.warn(o, m),
    error: (o, m) => p.error(o, m),
    child: (bindings) => wrap(p.child(bindings)),
  };
}
