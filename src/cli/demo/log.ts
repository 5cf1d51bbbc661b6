/**
 * The demo's log file: the in-process controller's JSON logs and the local servers' output, one
 * JSON object per line (pino, as the controller logs in a cluster). Nothing of it reaches the
 * terminal, where the live view is drawn.
 */
import { pino, type Logger as Pino } from 'pino';
import type { Logger } from '../../kube/log.ts';

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

export class FileLog {
  readonly path: string;
  readonly #root: Pino;
  readonly #dest: ReturnType<typeof pino.destination>;
  /** Lines that come after close (a server's last words) are dropped, not written to a closed file. */
  #closed = false;

  constructor(path: string, level = 'info') {
    this.path = path;
    // Synchronous on purpose: the file is complete even if the demo is killed a moment later.
    this.#dest = pino.destination({ dest: path, sync: true, append: true, mode: 0o600 });
    this.#root = pino({
      level: LEVELS.has(level) ? level : 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    }, this.#dest);
  }

  /** The Logger the controller is given. */
  logger(component: string): Logger {
    const child = this.#root.child({ component });
    return {
      debug: (o, m) => { if (!this.#closed) child.debug(o, m); },
      info: (o, m) => { if (!this.#closed) child.info(o, m); },
      warn: (o, m) => { if (!this.#closed) child.warn(o, m); },
      error: (o, m) => { if (!this.#closed) child.error(o, m); },
    };
  }

  /** A line sink for the local servers' output (etcd, kube-apiserver, Prometheus). */
  lines(component: string): (line: string) => void {
    const child = this.#root.child({ component });
    return (line) => { if (!this.#closed) child.info(line); };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#dest.end();
    } catch {
      // already closed, or a full disk: the demo's result does not depend on its log
    }
  }
}
