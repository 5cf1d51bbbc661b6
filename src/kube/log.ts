/** The logging surface the lower layers need; the controller hands them a pino child logger. */
export interface Logger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  /** A logger that adds `bindings` to every line it writes (pino's child loggers). */
  child?(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
