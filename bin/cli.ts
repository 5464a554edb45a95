// The runbook command line. Wiring only: parse arguments, call the engine,
// choose reporters, map errors to exit codes (0 ok, 1 task failed or host
// unreachable, 2 invalid input and nothing touched, 130 interrupted).

import { createInterface } from 'node:readline';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { ConnectionPool as ConnectionPoolType } from '../engine/connection/pool.js';
import type { Prompter } from '../engine/context.js';
import { errorMessage, InputError, InterruptedError, RunbookError } from '../engine/errors.js';
import type { RunEvent } from '../engine/events.js';
import type { RunJournal as Journal, SelectionInput } from '../engine/journal.js';
import type { RunLock as Lock } from '../engine/lock.js';
import type { TreeReporter } from '../engine/reporters/tree.js';
import type { ResumePlan } from '../engine/resume.js';

// Start-up is mostly loading ES modules (about 280 for `play`), so each
// command imports what it needs when it runs: `lab` never loads the playbook
// engine, `validate` never loads the lab, the journal or the reporters, and
// only `play` loads ssh2 (after its input has been checked).

/** The product adapters, registered once, before any inventory is read. */
async function registerProducts(): Promise<void> {
  const { registerBuiltinProducts } = await import('../engine/products/index.js');
  registerBuiltinProducts();
}

const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter(Boolean);

function fail(err: unknown): never {
  process.stderr.write(`runbook: ${errorMessage(err)}\n`);
  process.exit(err instanceof RunbookError ? err.exitCode : 1);
}

function terminalPrompter(): Prompter | undefined {
  if (!process.stdin.isTTY) return undefined;
  return (question, { secret }) =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      // In raw mode Ctrl-C reaches readline as a key, not as a signal: pass it on, so it interrupts the run as anywhere else.
      rl.on('SIGINT', () => {
        rl.close();
        process.kill(process.pid, 'SIGINT');
      });
      if (secret) {
        // Hide typed characters: echo nothing after the question.
        (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
          if (s.includes(question)) process.stderr.write(s);
        };
      }
      rl.question(`${question}: `, (answer) => {
        rl.close();
        if (secret) process.stderr.write('\n');
        resolve(answer);
      });
    });
}

const playOptions = (y: Argv) =>
  y
    .positional('playbook', { type: 'string', demandOption: true, describe: 'a playbook file, or the name of a built-in playbook' })
    .option('inventory', { alias: 'i', type: 'string', demandOption: true, describe: 'inventory or product topology file' })
    .option('limit', { alias: ['N', 'l'], type: 'string', array: true, describe: 'only these hosts, groups or nodes (name, ip:port, module), comma-separated' })
    .option('extra-vars', { alias: 'e', type: 'string', array: true, describe: 'NAME=value or @vars.yaml (highest precedence)' });

/** After an interrupt: the run must have exited 130 within 3 s of the signal, whatever still hangs. */
const INTERRUPT_BACKSTOP_MS = 2700;
/** After an interrupt, how long closing the connections may take. */
const CLOSE_GRACE_MS = 500;

/** --wait-lock alone waits as long as it takes; --wait-lock 60 waits up to 60 s. */
function waitLockMs(v: unknown): number {
  if (v === undefined || v === false) return 0;
  if (v === '' || v === true || v === 'true') return Infinity;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InputError(`--wait-lock ${String(v)}: expected a number of seconds, or nothing to wait as long as it takes`);
  return n * 1000;
}

async function cmdPlay(argv: Record<string, unknown>): Promise<void> {
  await registerProducts();
  const [{ moduleRegistry }, { parseExtraVars, play, prepare }, { newRunId, RunJournal }, { RunLock }, { planResume }, { EventBus }, { useColor }, { JsonReporter }, { LogFileReporter }, { PlainReporter }] =
    await Promise.all([
      import('../modules/index.js'),
      import('../engine/runner.js'),
      import('../engine/journal.js'),
      import('../engine/lock.js'),
      import('../engine/resume.js'),
      import('../engine/events.js'),
      import('../engine/reporters/format.js'),
      import('../engine/reporters/json.js'),
      import('../engine/reporters/logfile.js'),
      import('../engine/reporters/plain.js'),
    ]);
  const modules = moduleRegistry();
  const extraVars = parseExtraVars(list(argv['extra-vars']).length ? (argv['extra-vars'] as string[]) : []);
  const limit = list(argv['limit']);
  const tags = list(argv['tags']);
  const skipTags = list(argv['skip-tags']);
  const prepared = prepare({
    playbook: String(argv['playbook']),
    inventory: String(argv['inventory']),
    modules,
    limit,
    extraVars,
  });
  printWarnings(prepared.inventory);
  const waitMs = waitLockMs(argv['wait-lock']);
  // A terminal that reports no width (some CI pseudo-terminals) would get the tree wrapped one character per line.
  const output = (argv['output'] as string | undefined) ?? (process.stdout.isTTY && (process.stdout.columns ?? 0) > 0 ? 'tree' : 'plain');
  const verbose = Boolean(argv['verbose']);

  // Signals first: a run waiting for the lock must stop on Ctrl-C too.
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  /** Synchronous last words for an exit that cannot wait: set once the journal and lock exist. */
  let lastWords: () => void = () => undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      lastWords();
      process.stderr.write(`runbook: ${sig} again: exiting at once\n`);
      process.exit(130);
    }
    interrupted = sig;
    process.stderr.write(`\nrunbook: ${sig} received: starting no new tasks and cancelling running commands (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to quit at once)\n`);
    controller.abort(new InterruptedError(`interrupted by ${sig}`));
    setTimeout(() => {
      process.stderr.write(`runbook: still stopping ${INTERRUPT_BACKSTOP_MS / 1000} s after ${sig}; exiting now\n`);
      lastWords();
      process.exit(130);
    }, INTERRUPT_BACKSTOP_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const runId = newRunId();
  let lock: Lock;
  try {
    lock = await RunLock.acquire({
      inventory: prepared.inventory.path,
      playbook: prepared.playbook.path,
      runId,
      waitMs,
      onNote: (note) => process.stderr.write(`runbook: ${note}\n`),
      signal: controller.signal,
    });
  } catch (err) {
    if (interrupted) process.exit(130);
    throw err;
  }

  const selection: SelectionInput = {
    tags,
    skipTags,
    limit,
    check: Boolean(argv['check']),
    force: Boolean(argv['force']),
    yes: Boolean(argv['yes']),
    extraVars,
  };
  let journal: Journal;
  let resume: ResumePlan | undefined;
  try {
    // Chosen under the lock: the run it picks cannot be one still going on.
    if (argv['resume'] !== undefined && argv['resume'] !== false) {
      const id = typeof argv['resume'] === 'string' && argv['resume'] !== '' ? argv['resume'] : undefined;
      resume = planResume({ runId: id, playbookPath: prepared.playbook.path, playbookFiles: prepared.playbook.files, inventoryPath: prepared.inventory.path, selection });
    }
    journal = RunJournal.create({
      runId,
      playbookPath: prepared.playbook.path,
      playbookFiles: prepared.playbook.files,
      inventoryPath: prepared.inventory.path,
      selection,
      resumedFrom: resume?.fromRunId,
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  lastWords = () => {
    journal.close();
    lock.release();
    process.stderr.write(`runbook: run ${runId} stopped; its journal is ${journal.path} (resume with --resume ${runId})\n`);
  };
  if (resume) process.stderr.write(`runbook: resuming run ${resume.fromRunId}: ${resume.done} host×task result${resume.done === 1 ? '' : 's'} already done will be skipped\n`);

  const bus = new EventBus();
  const style = { color: useColor(process.stdout) };
  const log = new LogFileReporter(prepared.playbook.path);
  bus.on((e) => journal.handle(e));
  bus.on((e) => log.handle(e));
  let tree: TreeReporter | undefined;
  if (output === 'json') {
    const r = new JsonReporter((l) => process.stdout.write(l + '\n'));
    // task_state is the journal's business: registered data is shown only with -v, in task_result.
    bus.on((e) => e.type !== 'task_state' && r.handle(e));
  } else if (output === 'tree') {
    const { TreeReporter } = await import('../engine/reporters/tree.js');
    tree = new TreeReporter(process.stdout, style);
    const t = tree;
    bus.on((e) => t.handle(e));
  } else {
    const r = new PlainReporter((l) => process.stdout.write(l + '\n'), style, verbose);
    bus.on((e) => r.handle(e));
  }

  const started = Date.now();
  // Loaded only now: ssh2 is the largest part of start-up, and a run refused for bad input never needs it.
  const { ConnectionPool } = await import('../engine/connection/pool.js');
  const pool: ConnectionPoolType = new ConnectionPool({ acceptNewHostKeys: Boolean(argv['accept-new-host-keys']) });
  let exitCode = 1;
  let error: string | undefined;
  try {
    const summary = await play(prepared, {
      modules,
      bus,
      connect: (h) => pool.get(h),
      tags: { only: tags, skip: skipTags },
      limit,
      extraVars,
      check: selection.check,
      diff: Boolean(argv['diff']),
      forks: argv['forks'] as number | undefined,
      taskTimeout: argv['task-timeout'] as number | undefined,
      yes: selection.yes,
      force: selection.force,
      verbose,
      prompter: terminalPrompter(),
      signal: controller.signal,
      beforeTasks: (hosts) => pool.connectAll(hosts),
      resume,
      runId,
    });
    exitCode = summary.exitCode;
  } catch (err) {
    error = `runbook: ${errorMessage(err)}`;
    exitCode = err instanceof RunbookError ? err.exitCode : 1;
  } finally {
    const closing = pool.closeAll();
    // After an interrupt a connection that will not close politely must not hold the exit up.
    await (interrupted ? Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]) : closing);
  }
  if (interrupted) exitCode = 130;
  const end: RunEvent = {
    type: 'run_end',
    exit_code: exitCode,
    duration_ms: Date.now() - started,
    log_file: log.path,
    error,
    run_id: runId,
    journal: journal.path,
    interrupted: interrupted !== undefined ? true : undefined,
  };
  bus.emit(end);
  log.close();
  journal.close();
  lock.release();
  lastWords = () => undefined;
  if (tree) await (interrupted ? Promise.race([tree.flush(), new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref())]) : tree.flush());
  if (output !== 'json') {
    const again = exitCode === 1 || exitCode === 130 ? `; to finish it: runbook play … --resume ${runId}` : '';
    process.stdout.write(`run: ${runId} (journal ${journal.path})${again}\n`);
  }
  process.exitCode = exitCode;
  // Nothing left to wait for: stray timers or sockets of cancelled work must not keep an interrupted run alive.
  if (interrupted) process.exit(exitCode);
}

function printWarnings(inv: { warnings?: Array<{ message: string; hint?: string | undefined; location?: { file: string; line: number; col: number } | undefined }> | undefined }): void {
  for (const w of inv.warnings ?? []) {
    const where = w.location ? `${w.location.file}:${w.location.line}:${w.location.col}: ` : '';
    process.stderr.write(`runbook: warning: ${where}${w.message}${w.hint ? `\nhint: ${w.hint}` : ''}\n`);
  }
}

async function cmdValidate(argv: Record<string, unknown>): Promise<void> {
  await registerProducts();
  const [{ moduleRegistry }, { parseExtraVars, prepare }] = await Promise.all([import('../modules/index.js'), import('../engine/runner.js')]);
  const prepared = prepare({
    playbook: String(argv['playbook']),
    inventory: String(argv['inventory']),
    modules: moduleRegistry(),
    limit: list(argv['limit']),
    extraVars: parseExtraVars((argv['extra-vars'] as string[] | undefined) ?? []),
  });
  printWarnings(prepared.inventory);
  const tasks = prepared.playbook.plays.reduce((n, p) => n + p.tasks.length + p.handlers.length, 0);
  process.stdout.write(
    `valid: ${prepared.playbook.path}: ${prepared.playbook.plays.length} play(s), ${tasks} task(s), ` +
      `${prepared.hosts.length} host(s) from ${prepared.inventory.path}; ${prepared.playbook.files.length} file(s) checked\n`,
  );
}

async function cmdList(argv: Record<string, unknown>): Promise<void> {
  await registerProducts();
  const [{ loadInventory }, { moduleRegistry }, { listBuiltinPlaybooks }, { loadPlaybook }, { tagsOf }] = await Promise.all([
    import('../engine/inventory/load.js'),
    import('../modules/index.js'),
    import('../engine/runner.js'),
    import('../engine/playbook/load.js'),
    import('../engine/tags.js'),
  ]);
  const product = argv['inventory'] ? loadInventory(String(argv['inventory'])).product : undefined;
  const modules = moduleRegistry();
  const rows = listBuiltinPlaybooks(product);
  if (rows.length === 0) {
    process.stdout.write(product ? `no built-in playbooks for ${product}\n` : 'no built-in playbooks\n');
    return;
  }
  let group: string | undefined = '\0';
  for (const p of rows) {
    if (p.product !== group) {
      group = p.product;
      process.stdout.write(`\n${group ?? 'general'}:\n`);
    }
    let tags = '';
    try {
      const pb = loadPlaybook(p.path, { modules });
      const t = tagsOf(pb.plays.flatMap((pl) => [...pl.tasks, ...pl.handlers]));
      tags = t.length ? `  [tags: ${t.join(', ')}]` : '';
    } catch (err) {
      tags = `  (invalid: ${err instanceof InputError ? err.message : String(err)})`;
    }
    process.stdout.write(`  ${p.name.padEnd(14)} ${p.description ?? ''}${tags}\n`);
  }
}

async function cmdModules(argv: Record<string, unknown>): Promise<void> {
  const [{ moduleRegistry }, { formatModuleDoc, formatModuleList }] = await Promise.all([import('../modules/index.js'), import('../engine/docs.js')]);
  const modules = moduleRegistry();
  const name = argv['name'] as string | undefined;
  if (!name) {
    process.stdout.write(formatModuleList([...modules.values()]) + '\n');
    return;
  }
  const mod = modules.get(name);
  if (!mod) throw new InputError(`no module named "${name}"`, { hint: `modules: ${[...modules.keys()].sort().join(', ')}` });
  process.stdout.write(formatModuleDoc(mod) + '\n');
}

async function cmdInventory(argv: Record<string, unknown>): Promise<void> {
  await registerProducts();
  const [{ loadInventory }, { secretMasker }, { default: YAML }] = await Promise.all([import('../engine/inventory/load.js'), import('../engine/secret.js'), import('yaml')]);
  const inv = loadInventory(String(argv['inventory']));
  const out = {
    path: inv.path,
    product: inv.product,
    vars: inv.vars,
    groups: Object.fromEntries([...inv.groups.values()].map((g) => [g.name, { hosts: g.hosts, vars: g.vars }])),
    hosts: Object.fromEntries(
      [...inv.hosts.values()].map((h) => [
        h.name,
        {
          address: h.address,
          port: h.port,
          user: h.user,
          connection: h.connection,
          auth: {
            password: h.auth.password ? '********' : undefined,
            private_key_file: h.auth.privateKeyFile,
            passphrase: h.auth.passphrase ? '********' : undefined,
            agent: h.auth.agent,
          },
          known_hosts: h.knownHostsFile,
          groups: h.groups,
          aliases: h.aliases,
          vars: h.vars,
        },
      ]),
    ),
  };
  const text = argv['json'] ? JSON.stringify(secretMasker.maskValue(out), null, 2) : YAML.stringify(secretMasker.maskValue(out), { aliasDuplicateObjects: false }).trimEnd();
  process.stdout.write(text + '\n');
}

const wrap =
  <T>(fn: (argv: T) => void | Promise<void>) =>
  async (argv: T) => {
    try {
      await fn(argv);
    } catch (err) {
      fail(err);
    }
  };

const COMMANDS = ['play', 'validate', 'list', 'modules', 'inventory'];
// The lab's wiring loads the whole lab engine. It is left out when the
// command is one of the others: yargs then never looks at it, so help, errors
// and suggestions are the same as with it (a mistyped or missing command
// still gets every command, lab included).
const commandWord = hideBin(process.argv).find((a) => !a.startsWith('-'));

// A function, not top-level code: the bundle bin/runbook loads is CommonJS
// (see bin/bundle.mjs), which has no top-level await.
async function main(): Promise<void> {
  const lab = commandWord !== undefined && COMMANDS.includes(commandWord) ? undefined : (await import('./lab.js')).labCommand(wrap);

  const cli = yargs(hideBin(process.argv))
    .scriptName('runbook')
    .usage('runbook <command> [options]\n\nRuns YAML playbooks of typed task modules against inventories of hosts over SSH.')
    .command(
      'play <playbook>',
      'run a playbook',
      (y) =>
        playOptions(y)
          .option('tags', { alias: 't', type: 'string', array: true, describe: 'only tasks with one of these tags' })
          .option('skip-tags', { type: 'string', array: true, describe: 'skip tasks with any of these tags' })
          .option('check', { alias: 'C', type: 'boolean', describe: 'report what would change, change nothing' })
          .option('diff', { alias: 'D', type: 'boolean', describe: 'show differences in changed files' })
          .option('forks', { alias: 'f', type: 'number', describe: 'hosts in parallel (default 50)' })
          .option('task-timeout', { type: 'number', describe: 'seconds any task may run unless it sets timeout: (default 3600; 0: no limit)' })
          .option('yes', { type: 'boolean', describe: 'confirm destructive operations' })
          .option('force', { type: 'boolean', describe: 'playbook-specific: redeploy, kill at once, …' })
          .option('output', { alias: 'o', choices: ['tree', 'plain', 'json'] as const, describe: 'tree on a terminal (one that reports its width), plain otherwise' })
          .option('accept-new-host-keys', { type: 'boolean', describe: 'record unknown SSH host keys (changed keys are always refused)' })
          .option('resume', {
            type: 'string',
            describe: 'skip what an earlier run (the last one of this playbook and inventory, or the run id given) already did; refused if a file changed',
          })
          .option('wait-lock', {
            type: 'string',
            describe: 'wait for another run against this inventory to finish (optionally at most this many seconds) instead of refusing',
          })
          .option('verbose', { alias: 'v', type: 'boolean', describe: 'show registered data, progress and module logs' }),
      wrap(cmdPlay),
    )
    .command('validate <playbook>', 'check a playbook and inventory without touching any host', playOptions, wrap(cmdValidate))
    .command(
      'list',
      'built-in playbooks with their descriptions and tags',
      (y) => y.option('inventory', { alias: 'i', type: 'string', describe: 'only the playbooks for this inventory\'s product' }),
      wrap(cmdList),
    )
    .command(
      'modules [name]',
      'module documentation, generated from the modules\' schemas',
      (y) => y.positional('name', { type: 'string' }),
      wrap(cmdModules),
    )
    .command(
      'inventory',
      'show the normalised hosts, groups and vars (secrets masked)',
      (y) => y.option('inventory', { alias: 'i', type: 'string', demandOption: true }).option('json', { type: 'boolean' }),
      wrap(cmdInventory),
    )
  ;
  // Right after calling a command's handler, yargs renders the command's whole
  // help text and keeps it, so that a failure coming later could print it: about
  // 55 ms of every run (string-width's start-up, and laying out every option).
  // Our .fail() never prints help, so nothing would ever read it. yargs has no
  // setting for this; its usage object is reached through its internal methods
  // (left alone, not broken, should a later yargs not have them).
  const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;

  await (lab ? cli.command(lab) : cli)
    .demandCommand(1, 'name a command; see runbook --help')
    .strict()
    .recommendCommands()
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) fail(err);
      process.stderr.write(`runbook: ${msg}\nrun "runbook --help" for usage\n`);
      process.exit(2);
    })
    .parseAsync();
}

void main();
