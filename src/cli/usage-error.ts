/** A command line that cannot be run as typed: exit 2, one line naming the flag or argument. */
export class UsageError extends Error {}
