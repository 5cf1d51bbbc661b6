/**
 * The demo's log file: the in-process controller's JSON logs and the local servers' output, one
 * JSON object per line. Nothing of it reaches the terminal, where the live view is drawn.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Logger } from '../../kube/log.ts';

const ORDER = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof ORDER)[number];

export class FileLog {
  readonly path: string;
  #fd: number | undefined;
  readonly #min: number;

  constructor(path: string, level = 'info') {
    this.path = path;
    this.#fd = openSync(path, 'a', 0o600);
    const i = ORDER.indexOf(level as Level);
    this.#min = i < 0 ? 1 : i;
  }

  write(level: Level, component: string, obj: Record<string, unknown>, msg: string): void {
    if (this.#fd === undefined || ORDER.indexOf(level) < this.#min) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...obj });
    } catch {
      line = JSON.stringify({ time: new Date().toISOString(), level, component, msg });
    }
    // Synchronous on purpose: the file is complete even if the demo is killed a moment later.
    try {
      writeSync(this.#fd, `${line}\n`);
    } catch {
      // a full disk must not break the demo
    }
  }

  /** The Logger the controller is given. */
  logger(component: string): Logger {
    return {
      debug: (o, m) => this.write('debug', component, o, m),
      info: (o, m) => this.write('info', component, o, m),
      warn: (o, m) => this.write('warn', component, o, m),
      error: (o, m) => this.write('error', component, o, m),
    };
  }

  /** A line sink for the local servers' output (etcd, kube-apiserver, Prometheus). */
  lines(component: string): (line: string) => void {
    return (line) => this.write('info', component, {}, line);
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
