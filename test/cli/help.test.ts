/**
 * `mec --help` and `mec COMMAND --help` describe everything: the test walks the whole command tree
 * as a user would (each help lists its subcommands; each of those gets its own --help), and checks
 * that every command and every option says what it does. Usage errors exit 2 in every command.
 */
import { describe, expect, it } from 'vitest';
import { runMec } from '../support/mec-cli.ts';

/** Wide help lines: one line per option or command, as the parser below reads them. */
const mec = (...args: string[]) => runMec(args, { env: { COLUMNS: '200' } });

/** The entries of one section ("Commands:" or "Options:") of commander's help: name and description. */
function section(help: string, title: string): { name: string; description: string }[] {
  const lines = help.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const entries: { name: string; description: string }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || !line.startsWith('  ')) break;
    const match = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (match && !line.startsWith('   ')) entries.push({ name: match[1]!.trim(), description: (match[2] ?? '').trim() });
    else if (entries.length > 0) entries[entries.length - 1]!.description += ` ${line.trim()}`;
  }
  return entries;
}

describe('mec --help describes everything', () => {
  it('every command, at every depth, has a help that exits 0, a description and described options', async () => {
    const visited: string[] = [];
    const problems: string[] = [];
    const walk = async (pathOf: string[]): Promise<void> => {
      const run = await mec(...pathOf, '--help');
      const label = ['mec', ...pathOf].join(' ');
      visited.push(label);
      if (run.code !== 0) problems.push(`${label} --help exited ${run.code}: ${run.stderr}`);
      if (!run.stdout.startsWith(`Usage: ${label}`)) problems.push(`${label} --help does not start with its usage line`);
      // The description is the paragraph after the usage line.
      const description = run.stdout.split('\n\n')[1] ?? '';
      if (description.trim().length < 15 || description.startsWith('Options:')) problems.push(`${label} has no description`);
      for (const option of section(run.stdout, 'Options')) {
        if (option.description.length < 8) problems.push(`${label}: option ${option.name} is not described`);
      }
      const commands = section(run.stdout, 'Commands').filter((command) => !command.name.startsWith('help '));
      for (const command of commands) {
        if (command.description.length < 15) problems.push(`${label}: command ${command.name} is not described`);
        await walk([...pathOf, command.name.split(' ')[0]!]);
      }
    };
    await walk([]);
    expect(problems).toEqual([]);
    // The walk reached the nested commands, not just the top level.
    for (const expected of ['mec serve', 'mec up', 'mec blueprint validate', 'mec blueprint up', 'mec blueprint down', 'mec blueprint render', 'mec link set', 'mec camera simulate', 'mec audit verify', 'mec device', 'mec worker']) {
      expect(visited).toContain(expected);
    }
  }, 120_000);

  it('mec --version prints the package version', async () => {
    const run = await mec('--version');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('BAD CALL - an unknown command or option, a missing argument, a bad value: exit 2 with a hint, in every command', async () => {
    const calls: [string[], RegExp][] = [
      [['nosuch'], /unknown command 'nosuch'/],
      [['serve', '--nope'], /unknown option '--nope'/],
      [['serve', '--port', 'eighty'], /--port must be an integer/],
      [['up', '--mec-port', '-1'], /--mec-port/],
      [['link', 'set'], /missing required argument 'name'/],
      [['blueprint', 'render', 'blueprints/trial.yaml'], /required option '--target <target>' not specified/],
      [['camera', 'simulate', '--fps', 'fast'], /--fps/],
      [['audit', 'verify'], /missing required argument/],
    ];
    for (const [args, message] of calls) {
      const run = await mec(...args);
      expect(run.code, `mec ${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr, `mec ${args.join(' ')}`).toMatch(message);
    }
  }, 60_000);

  it('BAD CALL - something it needs does not answer: exit 3 (mec link show with no topology running)', async () => {
    const run = await mec('link', 'show', '--control', 'http://127.0.0.1:9');
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/EDGE_ERR_TOPOLOGY_UNREACHABLE/);
  });
});
