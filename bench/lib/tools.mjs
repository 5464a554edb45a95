// @ts-check
// The three ways the benchmark does the same work on a lab, and what each
// run reports: wall time, controller memory, what changed, and per-task
// timings for the profile.
//
//   runbook  bench/runbook/deploy.yaml through bin/runbook -o json
//   ansible  bench/ansible/deploy.yml through ansible-playbook
//   floor    one OpenSSH client per host: cat the archive over, unzip it;
//            its warm run is one ssh per host that checks the archive's sha256
//   floor+   a diagnostic, cold only: the floor plus, in the same session,
//            the scenario's other steps done by hand (write the config, start
//            the server, wait for its port, query it). runbook's time over
//            it is what the tool itself costs; the target is over the floor.
//
// All three use AES-128-GCM: runbook's ssh2 picks it on a CPU with AES-NI,
// and the OpenSSH runs are told to, so no tool wins or loses on the cipher.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, run, runMeasured } from './proc.mjs';
import { ARCHIVE_NAME, TOP_DIR } from './package.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY_DIR = '/opt/bench';
const CIPHER = 'aes128-gcm@openssh.com';
/** Generous: a failing tool should fail the bench, not hang it. */
const RUN_TIMEOUT_MS = 15 * 60_000;

/** @typedef {'runbook' | 'ansible' | 'floor' | 'floor+'} Tool */
/** @typedef {'cold' | 'warm'} Phase */

/**
 * The lab as the bench needs it.
 * @typedef {object} BenchLab
 * @property {string} name
 * @property {string} inventoryPath
 * @property {string} privateKeyFile
 * @property {string} knownHostsFile
 * @property {Array<{ name: string; address: string }>} hosts
 * @property {Set<number>} netnsInodes  the hosts' network namespaces, to find their processes
 */

/**
 * @typedef {object} TaskTiming
 * @property {string} task
 * @property {number} wallMs      from the task's start to its last host's result (or the next task's start)
 * @property {number} [hostMedianMs] runbook: median of the per-host duration_ms
 * @property {number} [hostMaxMs]    runbook: slowest host
 */

/**
 * @typedef {object} ToolRun
 * @property {Tool} tool
 * @property {Phase} phase
 * @property {number} hosts
 * @property {number} round
 * @property {number} wallMs
 * @property {number} peakPssBytes
 * @property {number} peakRssBytes
 * @property {number} peakProcesses
 * @property {number} changed      changed results summed over hosts (warm runs should say 0)
 * @property {number | undefined} controllerCpuS  CPU seconds of the tool and everything it started
 * @property {number | undefined} hostsCpuS       CPU seconds spent on the lab hosts during the run
 * @property {number} [startupMs]  runbook: spawn to its first event (process start, loading modules, parsing and validating)
 * @property {number} [connectMs]  runbook: first event to the first task's start (dialling every host)
 * @property {number} [tasksMs]    runbook: first task's start to the recap
 * @property {number} [teardownMs] runbook: recap to the process's exit (closing connections, journal, exit)
 * @property {number} [engineMs]   runbook: the recap's duration_ms
 * @property {TaskTiming[]} tasks
 */

/**
 * @typedef {object} RunSettings
 * @property {string} archive
 * @property {string} sha256
 * @property {number} round
 * @property {string} logDir
 * @property {string} runbookRoot  the runbook package to run (bench/.work/snapshot)
 */

/** OpenSSH options shared by the floor and the wipe: the lab's key and known_hosts, strict checking. @param {BenchLab} lab */
function sshOptions(lab) {
  return [
    '-F', 'none',
    '-i', lab.privateKeyFile,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${lab.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=20',
    '-o', 'LogLevel=ERROR',
    '-c', CIPHER,
  ];
}

/** POSIX single-quoting for the sh -c scripts the bench builds. @param {string} s */
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A shell script that runs `remote` on every host at once with one OpenSSH
 * client each (stdin from `stdinFile` if given) and fails if any failed.
 * @param {BenchLab} lab @param {string} remote @param {string} [stdinFile]
 */
function parallelSsh(lab, remote, stdinFile) {
  const opts = sshOptions(lab).map(q).join(' ');
  const lines = lab.hosts.map((h) => `ssh ${opts} ${q(`root@${h.address}`)} ${q(remote)}${stdinFile ? ` < ${q(stdinFile)}` : ' < /dev/null'} & pids="$pids $!"`);
  return ['pids=""', ...lines, 'rc=0', 'for p in $pids; do wait "$p" || rc=1; done', 'exit $rc'].join('\n');
}

/**
 * Make every host fresh for a cold run: end whatever runs from the deploy
 * folder (found by working directory, inside the host's own pid namespace,
 * never by name), wait until it is gone, delete the folder.
 * @param {BenchLab} lab
 */
export async function wipe(lab) {
  const remote = [
    `mine() { for d in /proc/[0-9]*; do case "$(readlink "$d/cwd" 2>/dev/null)" in ${DEPLOY_DIR}|${DEPLOY_DIR}/*) echo "\${d#/proc/}";; esac; done; }`,
    'pids=$(mine); [ -z "$pids" ] || kill -TERM $pids 2>/dev/null',
    'i=0; while [ -n "$(mine)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
    'left=$(mine); [ -z "$left" ] || kill -KILL $left 2>/dev/null',
    `rm -rf ${DEPLOY_DIR} /root/.ansible/tmp`,
  ].join('\n');
  const r = await run('sh', ['-c', parallelSsh(lab, remote)], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`wiping ${DEPLOY_DIR} on lab ${lab.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/**
 * Lines as they arrive, each with its time since the spawn.
 * @returns {{ lines: Array<{ t: number; text: string }>; onLine: (t: number, text: string) => void }}
 */
function lineLog() {
  /** @type {Array<{ t: number; text: string }>} */
  const lines = [];
  return { lines, onLine: (t, text) => void lines.push({ t, text }) };
}

/**
 * @param {Tool} tool @param {Phase} phase @param {BenchLab} lab
 * @param {RunSettings} o
 * @returns {Promise<ToolRun>}
 */
export async function runTool(tool, phase, lab, o) {
  if (tool === 'runbook') return runRunbook(phase, lab, o);
  if (tool === 'ansible') return runAnsible(phase, lab, o);
  return runFloor(phase, lab, o, tool === 'floor+');
}

/**
 * @param {Phase} phase @param {BenchLab} lab @param {RunSettings} o
 * @returns {Promise<ToolRun>}
 */
async function runRunbook(phase, lab, o) {
  const log = lineLog();
  const r = await runMeasured(
    join(o.runbookRoot, 'bin', 'runbook'),
    ['play', join(benchDir, 'runbook', 'deploy.yaml'), '-i', lab.inventoryPath, '-o', 'json', '-f', String(lab.hosts.length), '-e', `archive=${o.archive}`],
    { cwd: o.runbookRoot, timeoutMs: RUN_TIMEOUT_MS, netnsInodes: lab.netnsInodes, onLine: (stream, t, text) => stream === 'stdout' && log.onLine(t, text) },
  );
  await saveLog(o.logDir, `runbook-${lab.hosts.length}-${phase}-${o.round}.ndjson`, r.stdout + (r.stderr ? `\n# stderr\n${r.stderr}` : ''));
  if (r.code !== 0) throw new Error(`runbook ${phase} run on ${lab.hosts.length} hosts failed (exit ${r.code}):\n${tail(r.stderr || r.stdout)}`);

  /** @type {Array<{ t: number; e: any }>} */
  const events = [];
  for (const { t, text } of log.lines) {
    try {
      events.push({ t, e: JSON.parse(text) });
    } catch {
      // Not an event line.
    }
  }
  const recap = events.find((x) => x.e.type === 'recap')?.e;
  const firstEvent = events[0]?.t;
  const firstTask = events.find((x) => x.e.type === 'task_start')?.t;
  const recapAt = events.find((x) => x.e.type === 'recap')?.t;
  /** @type {Map<string, { start: number; end: number; durations: number[] }>} */
  const byTask = new Map();
  for (const { t, e } of events) {
    if (e.type === 'task_start') byTask.set(e.task, { start: t, end: t, durations: [] });
    if (e.type === 'task_result') {
      const k = byTask.get(e.task);
      if (k) {
        k.end = t;
        k.durations.push(e.duration_ms);
      }
    }
  }
  const changed = recap ? Object.values(recap.hosts).reduce((n, c) => n + /** @type {{ changed: number }} */ (c).changed, 0) : NaN;
  return {
    tool: 'runbook',
    phase,
    hosts: lab.hosts.length,
    round: o.round,
    wallMs: r.ms,
    peakPssBytes: r.memory.pssBytes,
    peakRssBytes: r.memory.rssBytes,
    peakProcesses: r.memory.processes,
    controllerCpuS: r.cpu.controllerS,
    hostsCpuS: r.cpu.hostsS,
    changed,
    ...(firstEvent !== undefined ? { startupMs: firstEvent } : {}),
    ...(firstEvent !== undefined && firstTask !== undefined ? { connectMs: firstTask - firstEvent } : {}),
    ...(firstTask !== undefined && recapAt !== undefined ? { tasksMs: recapAt - firstTask } : {}),
    ...(recapAt !== undefined ? { teardownMs: r.ms - recapAt } : {}),
    ...(recap ? { engineMs: recap.duration_ms } : {}),
    tasks: [...byTask].map(([task, k]) => ({
      task,
      wallMs: k.end - k.start,
      hostMedianMs: median(k.durations),
      hostMaxMs: Math.max(...k.durations),
    })),
  };
}

/**
 * @param {Phase} phase @param {BenchLab} lab @param {RunSettings} o
 * @returns {Promise<ToolRun>}
 */
async function runAnsible(phase, lab, o) {
  // A fresh ControlPath folder per run: no run reuses another's connections
  // (runbook starts without any either); the masters are closed afterwards.
  const cp = mkdtempSync(join(tmpdir(), 'rb-bench-cp-'));
  const log = lineLog();
  try {
    const r = await runMeasured(
      'ansible-playbook',
      ['deploy.yml', '-f', String(lab.hosts.length), '-l', lab.hosts.map((h) => h.address).join(','), '-e', `archive=${o.archive}`],
      {
        cwd: join(benchDir, 'ansible'),
        timeoutMs: RUN_TIMEOUT_MS,
        netnsInodes: lab.netnsInodes,
        env: {
          ANSIBLE_CONFIG: join(benchDir, 'ansible', 'ansible.cfg'),
          ANSIBLE_PRIVATE_KEY_FILE: lab.privateKeyFile,
          ANSIBLE_SSH_EXTRA_ARGS: `-o UserKnownHostsFile=${lab.knownHostsFile} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -c ${CIPHER}`,
          ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
          ANSIBLE_NOCOLOR: '1',
          // Lines as they happen, for the per-task timings.
          PYTHONUNBUFFERED: '1',
        },
        onLine: (stream, t, text) => stream === 'stdout' && log.onLine(t, text),
      },
    );
    await saveLog(o.logDir, `ansible-${lab.hosts.length}-${phase}-${o.round}.log`, r.stdout + (r.stderr ? `\n# stderr\n${r.stderr}` : ''));
    if (r.code !== 0) throw new Error(`ansible-playbook ${phase} run on ${lab.hosts.length} hosts failed (exit ${r.code}):\n${tail(r.stdout + r.stderr)}`);
    const recap = [...r.stdout.matchAll(/^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)];
    if (recap.length !== lab.hosts.length) {
      throw new Error(`ansible-playbook reported on ${recap.length} hosts, not ${lab.hosts.length}: are all lab addresses in bench/ansible/inventory.ini?`);
    }
    /** @type {TaskTiming[]} */
    const tasks = [];
    const heads = log.lines.filter((l) => /^(TASK|PLAY RECAP) \[?/.test(l.text));
    for (let i = 0; i + 1 < heads.length; i++) {
      const h = /** @type {{ t: number; text: string }} */ (heads[i]);
      const next = /** @type {{ t: number; text: string }} */ (heads[i + 1]);
      const m = /^TASK \[(.*)\]/.exec(h.text);
      if (m?.[1] !== undefined) tasks.push({ task: m[1], wallMs: next.t - h.t });
    }
    return {
      tool: 'ansible',
      phase,
      hosts: lab.hosts.length,
      round: o.round,
      wallMs: r.ms,
      peakPssBytes: r.memory.pssBytes,
      peakRssBytes: r.memory.rssBytes,
      peakProcesses: r.memory.processes,
      controllerCpuS: r.cpu.controllerS,
      hostsCpuS: r.cpu.hostsS,
      changed: recap.reduce((n, m) => n + Number(m[1]), 0),
      tasks,
    };
  } finally {
    await closeMasters(cp);
  }
}

/** End the ssh ControlPersist masters a run left behind, through their sockets. @param {string} dir */
async function closeMasters(dir) {
  let sockets = [];
  try {
    sockets = readdirSync(dir);
  } catch {
    return;
  }
  await Promise.all(sockets.map((s) => run('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'bench-master'], { timeoutMs: 10_000 }).catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The scenario's steps after unpacking, as one shell script on the host: the
 * config the playbooks template (the host's name in it), the package's own
 * start script, its port polled every 20 ms for up to 30 s with the package's
 * query script (bash's /dev/tcp), then the status question.
 */
const SERVER_STEPS = [
  `cd ${DEPLOY_DIR}/${TOP_DIR}`,
  `printf 'server.name=%s\\nserver.port=7070\\nserver.listen=0.0.0.0\\n' "$(hostname)" > conf/server.properties`,
  'bin/start.sh >/dev/null',
  '{ n=0; until bin/query.sh ping >/dev/null 2>&1; do n=$((n + 1)); [ $n -lt 1500 ] || { echo "bench-server did not listen within 30 s" >&2; exit 1; }; sleep 0.02; done; }',
  'bin/query.sh status >/dev/null',
].join(' && ');

/**
 * @param {Phase} phase @param {BenchLab} lab @param {RunSettings} o @param {boolean} plus  floor+: the server steps too (cold only)
 * @returns {Promise<ToolRun>}
 */
async function runFloor(phase, lab, o, plus) {
  const dest = `${DEPLOY_DIR}/${ARCHIVE_NAME}`;
  if (plus && phase !== 'cold') throw new Error('floor+ has only a cold run');
  const unpack = `mkdir -p ${DEPLOY_DIR} && cat > ${dest} && cd ${DEPLOY_DIR} && unzip -q -o ${ARCHIVE_NAME}`;
  const script =
    phase === 'cold'
      ? parallelSsh(lab, plus ? `${unpack} && ${SERVER_STEPS}` : unpack, o.archive)
      : parallelSsh(lab, `echo '${o.sha256}  ${dest}' | sha256sum -c --quiet`);
  const r = await runMeasured('sh', ['-c', script], { timeoutMs: RUN_TIMEOUT_MS, netnsInodes: lab.netnsInodes });
  if (r.code !== 0) throw new Error(`the ${plus ? 'floor+' : 'floor'}'s ${phase} run on ${lab.hosts.length} hosts failed (exit ${r.code}):\n${tail(r.stderr)}`);
  return {
    tool: plus ? 'floor+' : 'floor',
    phase,
    hosts: lab.hosts.length,
    round: o.round,
    wallMs: r.ms,
    peakPssBytes: r.memory.pssBytes,
    peakRssBytes: r.memory.rssBytes,
    peakProcesses: r.memory.processes,
    controllerCpuS: r.cpu.controllerS,
    hostsCpuS: r.cpu.hostsS,
    changed: phase === 'cold' ? lab.hosts.length : 0,
    tasks: [],
  };
}

/** @param {string} text */
function tail(text, lines = 15) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** @param {string} dir @param {string} name @param {string} text */
async function saveLog(dir, name, text) {
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), text);
}
