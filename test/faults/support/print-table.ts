/**
 * Global setup of the fault suite: clears the figures of an earlier run before it, prints every
 * scenario's figures as one table after it (figures.ts writes them).
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { FIGURES_DIR, type Figure } from './figures.ts';

export function setup(): () => void {
  rmSync(FIGURES_DIR, { recursive: true, force: true });
  return printTable;
}

function printTable(): void {
  if (!existsSync(FIGURES_DIR)) return;
  const rows: string[][] = [['scenario', 'figure', 'measured', 'target', 'met']];
  for (const file of readdirSync(FIGURES_DIR).sort()) {
    if (!file.endsWith('.json')) continue;
    const { scenario, figures } = JSON.parse(readFileSync(path.join(FIGURES_DIR, file), 'utf8')) as { scenario: string; figures: Figure[] };
    for (const figure of figures) rows.push([scenario, figure.name, figure.value, figure.target, figure.met ? 'yes' : 'MISS']);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]): string => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  process.stdout.write(`\nfault suite${process.env.FAULTS_FULL === '1' ? ' (FAULTS_FULL)' : ' (quick sizes; FAULTS_FULL=1 for the issue sizes)'}\n`);
  process.stdout.write(`${line(rows[0]!)}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n`);
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
}
