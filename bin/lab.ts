// `runbook lab …`: wiring for the built-in lab of SSH hosts on this machine.

import type { CommandModule } from 'yargs';
import { buildLabPackage, formatLabDown, formatLabPackage, formatLabStatus, formatLabUp, labDown, labStatus, labUp } from '../engine/lab/index.js';

type Wrap = <T>(fn: (argv: T) => void | Promise<void>) => (argv: T) => Promise<void>;

const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : text + '\n');

export function labCommand(wrap: Wrap): CommandModule {
  return {
    command: 'lab <action>',
    describe: 'real SSH test hosts on this machine (network namespaces, as root)',
    builder: (y) =>
      y
        .command(
          'up',
          'create lab hosts (or add hosts to a lab)',
          (b) =>
            b
              .option('hosts', { alias: 'n', type: 'number', default: 3, describe: 'how many hosts the lab should have' })
              .option('subnet', { type: 'string', describe: 'address range for the hosts (default 198.19.0.0/24)' })
              .option('name', { type: 'string', describe: 'lab name, to keep several labs apart (default "default")' }),
          wrap(async (argv: Record<string, unknown>) => {
            const state = await labUp({ hosts: argv['hosts'] as number, subnet: argv['subnet'] as string | undefined, name: argv['name'] as string | undefined });
            out(formatLabUp(state));
          }),
        )
        .command(
          'status',
          'show the lab\'s hosts and whether their sshd answers',
          (b) => b.option('name', { type: 'string' }),
          wrap(async (argv: Record<string, unknown>) => {
            out(formatLabStatus(await labStatus({ name: argv['name'] as string | undefined })));
          }),
        )
        .command(
          'down',
          'remove every namespace, bridge, process and file the lab made',
          (b) => b.option('name', { type: 'string' }),
          wrap(async (argv: Record<string, unknown>) => {
            const name = argv['name'] as string | undefined;
            out(formatLabDown(name ?? 'default', await labDown({ name })));
          }),
        )
        .command(
          'package <product>',
          'build a simulated product package (a test double, labelled simulated) and print its path',
          (b) =>
            b
              .positional('product', { type: 'string', demandOption: true })
              .option('out', { type: 'string', describe: 'output folder' })
              // Here --version names the product version to build, not runbook's own.
              .version(false)
              .option('version', { type: 'string', describe: 'product version to build (packages that offer several, e.g. dolphindb)' }),
          wrap(async (argv: Record<string, unknown>) => {
            const version = argv['version'] as string | undefined;
            out(formatLabPackage(await buildLabPackage(String(argv['product']), { outDir: argv['out'] as string | undefined, version })));
          }),
        )
        .demandCommand(1, 'name a lab action: up, status, down or package'),
    handler: () => undefined,
  };
}
