/**
 * `mec blueprint validate|render|up|down`: the commands and their options. What each does lives in
 * its own file (blueprint-validate.ts, blueprint-render.ts, blueprint-up.ts), loaded when the command
 * runs so that `mec --help` and the other commands start fast.
 */
import { Option, type Command } from 'commander';
import type { BlueprintUpOptions } from './blueprint-up.ts';
import { DEFAULT_STATE_DIR } from './blueprint-state.ts';
import { positive } from './option-parsers.ts';
import { addTopologyAddressOptions } from './topology-options.ts';
import { EXIT_USAGE } from './exit-codes.ts';


export function registerBlueprintCommands(program: Command): void {
  const blueprint = program.command('blueprint').description('blueprints: one file describing a whole stack (blueprints/README.md)');
  blueprint
    .command('validate')
    .description('check blueprint files against the schema, the model repository and the placement policy; print every problem with its line')
    .argument('[files...]', 'blueprint YAML files')
    .addOption(new Option('--repository <dir>', 'model repository folder (default: models/repository)'))
    .addHelpText('after', '\nExit codes: 0 all valid, 1 a blueprint is invalid, 2 usage error or unreadable file.\nOutput: FILE: valid (...), or FILE:LINE: /path: message (hint) per problem.')
    .action(async (files: string[], options: { repository?: string }) => {
      if (files.length === 0) {
        process.stderr.write('mec blueprint validate: give at least one blueprint file (e.g. blueprints/field-speech.yaml)\n');
        process.exit(EXIT_USAGE);
      }
      const { validateFiles } = await import('./blueprint-validate.ts');
      const code = await validateFiles(
        files,
        options,
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
      process.exitCode = code;
    });
  blueprint
    .command('render')
    .description('render a blueprint as deployment manifests (validated first): --target kubernetes writes one YAML file per object')
    .argument('<file>', 'blueprint YAML file')
    .addOption(new Option('--target <target>', 'what to render for').choices(['kubernetes']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'folder the manifests are written to (files an earlier render wrote there and this one does not are removed)')
    .option('--image <image>', 'container image of the mec nodes (default: ghcr.io/mec-inference/mec:0.1.0)')
    .addOption(new Option('--layout <layout>', 'one file per object or per kind').choices(['object', 'kind']).default('object'))
    .addOption(new Option('--repository <dir>', 'model repository folder (default: models/repository)'))
    .addHelpText('after', '\nExit codes: 0 rendered, 1 the blueprint is invalid (its problems are printed as by validate), 2 usage error or unreadable file.')
    .action(async (file: string, options: { out: string; image?: string; layout: 'object' | 'kind'; repository?: string }) => {
      const { renderBlueprintFile } = await import('./blueprint-render.ts');
      process.exitCode = await renderBlueprintFile(
        file,
        options,
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
    });
  const up = blueprint
    .command('up')
    .description("run a blueprint's topology on this machine (its first MEC node, its cloud tier if any, emulated links); stays in the foreground")
    .argument('<file>', 'blueprint YAML file');
  addTopologyAddressOptions(up)
    .option('--redis <url>', 'Redis for the blueprint\'s durable jobs (default: redis://127.0.0.1:6379)')
    .option('--jobs-prefix <prefix>', 'BullMQ key prefix of the jobs (default: the node\'s)')
    .option('--mqtt <url>', 'MQTT broker of nodes with mqtt.enabled (default: mqtt://127.0.0.1:1883)')
    .option('--no-mqtt', 'no MQTT bridge on the MEC node, even where the blueprint enables it')
    .option('--simulate', 'also run a phone sending photos (if the MEC node detects) and the blueprint\'s cameras streaming frames')
    .option('--device-interval-ms <ms>', 'with --simulate: how often the phone sends a photo', positive('--device-interval-ms'), 2000)
    .option('--audit-dir <dir>', 'where the nodes write their audit logs (default: none)')
    .option('--log-level <level>', 'the nodes\' log level', 'warn')
    .option('--state-dir <dir>', 'where the running blueprint is recorded (<name>.json)', DEFAULT_STATE_DIR)
    .addOption(new Option('--repository <dir>', 'model repository folder (default: models/repository)'))
    .addHelpText('after', '\nExit codes: 1 the blueprint is invalid (problems printed as by validate) or already running, 2 usage error or unreadable file; once up, 0 after SIGINT/SIGTERM (mec blueprint down), 1 when a tier died.')
    .action(async (file: string, options: Omit<BlueprintUpOptions, 'mqtt'> & { mqtt: string | boolean; simulate?: boolean; deviceIntervalMs: number }) => {
      // commander: --no-mqtt sets mqtt to false, --mqtt URL to the URL, neither leaves it true.
      const { mqtt, deviceIntervalMs, ...rest } = options;
      const { blueprintUp } = await import('./blueprint-up.ts');
      process.exitCode = await blueprintUp(
        file,
        { ...rest, ...(mqtt === true ? {} : { mqtt }), ...(options.simulate === true ? { deviceIntervalMs } : {}) },
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
    });
  blueprint
    .command('down')
    .description('stop a blueprint that `mec blueprint up` runs: SIGTERM, wait (10 s, then SIGKILL), remove its state file')
    .argument('[name]', 'the blueprint\'s metadata.name (default: the only one running)')
    .option('--state-dir <dir>', 'where running blueprints are recorded', DEFAULT_STATE_DIR)
    .addHelpText('after', '\nExit codes: 0 stopped, 1 nothing (or not that one) running, 2 several running and no NAME given.')
    .action(async (name: string | undefined, options: { stateDir: string }) => {
      const { blueprintDown } = await import('./blueprint-up.ts');
      process.exitCode = await blueprintDown(
        name,
        options,
        (line) => process.stdout.write(`${line}\n`),
        (line) => process.stderr.write(`${line}\n`),
      );
    });
}
