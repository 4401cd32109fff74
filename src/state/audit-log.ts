/**
 * Audit records: one JSON line per destructive step or operator action
 * ({audit:true, action, migration_id, queue, vhost, who, details, at}). Every record goes to the
 * structured log and, when QMIG_AUDIT_LOG is set, is appended to that file (one line each,
 * written synchronously so that the file order is the order of the steps). Generic: used by the
 * migration engine and the transfer engine alike.
 */
import { appendFileSync } from 'node:fs';
import { logger } from '../logging.js';

export interface AuditEntry {
  /** What was done, snake_case: delete_queue, revoke_permission, create_shovel, interrupt_requested … */
  action: string;
  migration_id?: string | null;
  queue?: string | null;
  vhost?: string | null;
  /** Who caused it: the calling user, or `qmig:<instance>` for the engine itself. */
  who: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'details'>> {
  audit: true;
  details: Record<string, unknown>;
  /** ISO-8601 UTC. */
  at: string;
}

export class AuditLog {
  private fileFailed = false;

  constructor(private readonly file?: string) {}

  record(entry: AuditEntry): AuditRecord {
    const line: AuditRecord = {
      audit: true,
      action: entry.action,
      migration_id: entry.migration_id ?? null,
      queue: entry.queue ?? null,
      vhost: entry.vhost ?? null,
      who: entry.who,
      details: entry.details ?? {},
      at: new Date().toISOString(),
    };
    logger.info(`audit: ${line.action}`, line);
    if (this.file) {
      try {
        appendFileSync(this.file, JSON.stringify(line) + '\n', { encoding: 'utf8' });
        this.fileFailed = false;
      } catch (err) {
        // Warn once per failure streak; the structured log still has the record.
        if (!this.fileFailed) logger.error('cannot append to the audit log file', { file: this.file, error: (err as Error).message });
        this.fileFailed = true;
      }
    }
    return line;
  }
}

const logs = new Map<string, AuditLog>();

/** The audit log for a configured file (one instance per file, so appends stay ordered). */
export function auditLog(file: string | undefined): AuditLog {
  const key = file ?? '';
  let log = logs.get(key);
  if (!log) {
    log = new AuditLog(file);
    logs.set(key, log);
  }
  return log;
}
