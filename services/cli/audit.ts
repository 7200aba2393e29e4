/**
 * `mec audit verify FILE`: checks the hash chain of a placement audit log. Exit 0 when intact; a
 * broken chain throws EDGE_ERR_AUDIT_LOG_INVALID, which the `mec` entry point prints and exits 1 on.
 */
import type { Command } from 'commander';
import { EdgeError } from '../core/errors.ts';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the hash-chained audit log of placement decisions');
  audit
    .command('verify')
    .description('check every record of an audit log: hashes, sequence and chain')
    .argument('<file>', 'audit log (JSON Lines)')
    .action(async (file: string) => {
      const { verifyAuditLog } = await import('../audit/verify.ts');
      const result = await verifyAuditLog(file);
      if (!result.ok) {
        throw new EdgeError('EDGE_ERR_AUDIT_LOG_INVALID', `line ${result.line}: ${result.problem}`, {
          details: { file, line: result.line, records: result.records, problem: result.problem },
        });
      }
      process.stdout.write(`ok: ${result.records} records, chain intact (last hash ${result.lastHash})\n`);
    });
}
