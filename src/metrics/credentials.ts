/**
 * Where Prometheus credentials come from. A mounted Secret is rotated by the kubelet swapping a
 * symlink, so the file is read again at every call rather than once at start.
 */
import { readFile } from 'node:fs/promises';

/** The credentials could not be read. The message names the file, never its content. */
export class CredentialsError extends Error {
  readonly path: string;

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`cannot read Prometheus credentials from ${path}: ${reason}`, options);
    this.name = 'CredentialsError';
    this.path = path;
  }
}

/**
 * Reads the file at `path` at each call, trimmed (a trailing newline from `echo` or an editor is
 * not part of the secret). bearer: the token; basic: `user:password`.
 */
export function fileCredentials(path: string): () => Promise<string> {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file (is the Secret mounted?)'
        : code === 'EACCES' ? 'permission denied'
        : code === 'EISDIR' ? 'it is a directory, not a file'
        : (code ?? 'unreadable');
      throw new CredentialsError(path, reason);
    }
    const value = text.trim();
    if (value === '') throw new CredentialsError(path, 'the file is empty');
    return value;
  };
}
