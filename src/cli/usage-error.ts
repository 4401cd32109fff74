/**
 * A command line the CLI cannot act on (unknown flag, missing or bad value, bad profile): its
 * message names the problem and the command exits 2 (exit-codes.ts). Its own module so that
 * args.ts and profiles.ts both use it without importing each other.
 */
export class UsageError extends Error {}
