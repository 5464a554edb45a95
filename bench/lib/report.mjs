// @ts-check
// Turning the runs into what people read: medians per tool, phase and host
// count, the ratios, the targets (reported, never asserted), the table
// printed at the end, and the SVG chart the README shows.

import { median } from './proc.mjs';

/** @typedef {import('./tools.mjs').ToolRun} ToolRun */
/** @typedef {import('./tools.mjs').Tool} Tool */
/** @typedef {import('./tools.mjs').Phase} Phase */
/** @typedef {import('./startup.mjs').StartupResult} StartupResult */

/** @type {Tool[]} */
export const TOOLS = ['runbook', 'ansible', 'floor', 'floor+'];
/** The issue's three, which the chart shows; floor+ is a diagnostic (cold only) for the table. */
const CHART_TOOLS = /** @type {Tool[]} */ (['runbook', 'ansible', 'floor']);
/** @type {Phase[]} */
const PHASES = ['cold', 'warm'];
const MB = 1024 * 1024;

/**
 * @typedef {object} Cell
 * @property {Tool} tool
 * @property {Phase} phase
 * @property {number} hosts
 * @property {number} runs
 * @property {number} medianWallMs
 * @property {number[]} wallMs
 * @property {number} peakPssMB   highest over the runs
 * @property {number} peakRssMB   highest over the runs
 * @property {number} changedMax  most changed results in any run (a warm run should have 0)
 * @property {number | undefined} controllerCpuS  median CPU seconds of the tool's own processes
 * @property {number | undefined} hostsCpuS       median CPU seconds on the lab hosts
 */

/**
 * @typedef {object} Ratio
 * @property {number} hosts
 * @property {Phase} phase
 * @property {number | undefined} runbookOverAnsible   < 1: runbook is faster
 * @property {number | undefined} runbookOverFloor     1 = as fast as plain OpenSSH
 * @property {number | undefined} runbookOverFloorPlus  cold: over plain OpenSSH doing the scenario's other steps too (what the tool itself costs)
 * @property {number | undefined} cpuOverAnsible       the same for CPU seconds (controller + hosts): less sensitive to others' load
 * @property {number | undefined} cpuOverFloor
 */

/**
 * @typedef {object} Target
 * @property {string} name
 * @property {string} goal
 * @property {string} measured
 * @property {boolean | undefined} met   undefined when this run cannot tell (quick mode, a tool missing)
 */

/** @param {ToolRun[]} runs @returns {Cell[]} */
export function summarise(runs) {
  /** @type {Cell[]} */
  const cells = [];
  const hostCounts = [...new Set(runs.map((r) => r.hosts))].sort((a, b) => a - b);
  for (const hosts of hostCounts) {
    for (const phase of PHASES) {
      for (const tool of TOOLS) {
        const mine = runs.filter((r) => r.hosts === hosts && r.phase === phase && r.tool === tool);
        if (mine.length === 0) continue;
        cells.push({
          tool,
          phase,
          hosts,
          runs: mine.length,
          wallMs: mine.map((r) => Math.round(r.wallMs)),
          medianWallMs: median(mine.map((r) => r.wallMs)),
          peakPssMB: Math.max(...mine.map((r) => r.peakPssBytes)) / MB,
          peakRssMB: Math.max(...mine.map((r) => r.peakRssBytes)) / MB,
          changedMax: Math.max(...mine.map((r) => r.changed)),
          controllerCpuS: medianDefined(mine.map((r) => r.controllerCpuS)),
          hostsCpuS: medianDefined(mine.map((r) => r.hostsCpuS)),
        });
      }
    }
  }
  return cells;
}

/** @param {Array<number | undefined>} xs */
function medianDefined(xs) {
  const d = xs.filter((x) => x !== undefined);
  return d.length === 0 ? undefined : median(/** @type {number[]} */ (d));
}

/** @param {Cell[]} cells @param {Tool} tool @param {Phase} phase @param {number} hosts */
const cellOf = (cells, tool, phase, hosts) => cells.find((c) => c.tool === tool && c.phase === phase && c.hosts === hosts);

/** @param {Cell[]} cells @returns {Ratio[]} */
export function ratios(cells) {
  /** @type {Ratio[]} */
  const out = [];
  for (const hosts of [...new Set(cells.map((c) => c.hosts))]) {
    for (const phase of PHASES) {
      const rb = cellOf(cells, 'runbook', phase, hosts);
      if (!rb) continue;
      const an = cellOf(cells, 'ansible', phase, hosts);
      const fl = cellOf(cells, 'floor', phase, hosts);
      const fp = cellOf(cells, 'floor+', phase, hosts);
      const cpu = (/** @type {Cell | undefined} */ c) => (c?.controllerCpuS === undefined || c.hostsCpuS === undefined ? undefined : c.controllerCpuS + c.hostsCpuS);
      const over = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
      out.push({
        hosts,
        phase,
        runbookOverAnsible: an ? rb.medianWallMs / an.medianWallMs : undefined,
        runbookOverFloor: fl ? rb.medianWallMs / fl.medianWallMs : undefined,
        runbookOverFloorPlus: fp ? rb.medianWallMs / fp.medianWallMs : undefined,
        cpuOverAnsible: over(cpu(rb), cpu(an)),
        cpuOverFloor: over(cpu(rb), cpu(fl)),
      });
    }
  }
  return out;
}

/**
 * The issue's targets against this run. Warm and cold targets need the full
 * host counts (6 and 30); memory needs 30 hosts and a ~100 MB package.
 * @param {Cell[]} cells @param {Ratio[]} rs @param {StartupResult | undefined} startup @param {{ packageBytes: number }} o
 * @returns {Target[]}
 */
export function targets(cells, rs, startup, o) {
  /** @type {Target[]} */
  const out = [];
  const r = (/** @type {number} */ hosts, /** @type {Phase} */ phase) => rs.find((x) => x.hosts === hosts && x.phase === phase);
  for (const [hosts, want] of /** @type {const} */ ([[6, 10], [30, 15]])) {
    const x = r(hosts, 'warm')?.runbookOverAnsible;
    out.push({
      name: `warm rerun, ${hosts} hosts`,
      goal: `at least ${want}× faster than Ansible`,
      measured: x === undefined ? 'not measured' : `${(1 / x).toFixed(1)}× faster`,
      met: x === undefined ? undefined : 1 / x >= want,
    });
  }
  for (const hosts of [6, 30]) {
    const x = r(hosts, 'cold')?.runbookOverFloor;
    out.push({
      name: `cold deploy, ${hosts} hosts`,
      goal: 'at most 1.3× the floor',
      measured: x === undefined ? 'not measured' : `${x.toFixed(2)}× the floor`,
      met: x === undefined ? undefined : x <= 1.3,
    });
  }
  const at30 = cells.filter((c) => c.tool === 'runbook' && c.hosts === 30);
  const big = o.packageBytes >= 90 * MB;
  const peak = at30.length ? Math.max(...at30.map((c) => c.peakRssMB)) : undefined;
  out.push({
    name: `controller peak memory, 30 hosts × ${Math.round(o.packageBytes / MB)} MB`,
    goal: 'at most 300 MB (RSS of the runbook process)',
    measured: peak === undefined ? 'not measured' : `${peak.toFixed(0)} MB RSS${big ? '' : ' (package smaller than 100 MB)'}`,
    met: peak === undefined || !big ? undefined : peak <= 300,
  });
  if (startup) {
    const v = startup.version.medianMs;
    const bare = startup.versionWithoutExtraCa?.medianMs;
    out.push({
      name: '`runbook --version`',
      goal: 'at most 150 ms',
      measured: `${v.toFixed(0)} ms${bare !== undefined ? ` (${bare.toFixed(0)} ms without NODE_EXTRA_CA_CERTS)` : ''}`,
      met: v <= 150,
    });
  }
  return out;
}

/** @param {number} ms */
const secs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);
/** @param {string} s @param {number} n */
const pad = (s, n) => s.padEnd(n);
/** @param {string} s @param {number} n */
const lpad = (s, n) => s.padStart(n);

/**
 * The table printed at the end of a run.
 * @param {Cell[]} cells @param {Ratio[]} rs @param {Target[]} ts @param {StartupResult | undefined} startup
 */
export function formatTable(cells, rs, ts, startup) {
  const lines = [];
  const head = `${pad('scenario', 16)}${lpad('runbook', 10)}${lpad('ansible', 10)}${lpad('floor', 10)}${lpad('floor+', 10)}   ${pad('runbook/ansible', 22)}${pad('runbook/floor', 15)}runbook/floor+`;
  lines.push('wall time, median of each tool\'s runs', head, '-'.repeat(head.length));
  for (const x of rs) {
    const c = (/** @type {Tool} */ t) => cellOf(cells, t, x.phase, x.hosts);
    const v = (/** @type {Tool} */ t) => {
      const cell = c(t);
      return cell ? secs(cell.medianWallMs) : '—';
    };
    const ra = x.runbookOverAnsible === undefined ? '—' : `${x.runbookOverAnsible.toFixed(3)} (${(1 / x.runbookOverAnsible).toFixed(1)}× faster)`;
    const rf = x.runbookOverFloor === undefined ? '—' : x.runbookOverFloor.toFixed(2);
    const rp = x.runbookOverFloorPlus === undefined ? '—' : x.runbookOverFloorPlus.toFixed(2);
    lines.push(`${pad(`${x.phase} ${lpad(String(x.hosts), 2)} hosts`, 16)}${lpad(v('runbook'), 10)}${lpad(v('ansible'), 10)}${lpad(v('floor'), 10)}${lpad(v('floor+'), 10)}   ${pad(ra, 22)}${pad(rf, 15)}${rp}`);
  }
  if (cells.some((c) => c.tool === 'floor+')) {
    lines.push("floor+ (a diagnostic, cold only): the floor plus the scenario's other steps by hand in the same session; runbook/floor+ is what the tool itself costs");
  }
  lines.push('');
  const toolHeader = `${pad('', 16)}${TOOLS.map((t) => lpad(t, 18)).join('')}`;
  lines.push('controller peak memory, highest over the runs: PSS (RSS)', toolHeader);
  for (const hosts of [...new Set(cells.map((c) => c.hosts))]) {
    for (const phase of PHASES) {
      const parts = TOOLS.map((t) => {
        const c = cellOf(cells, t, phase, hosts);
        return lpad(c ? `${c.peakPssMB.toFixed(0)} (${c.peakRssMB.toFixed(0)}) MB` : '—', 18);
      });
      lines.push(`${pad(`${phase} ${lpad(String(hosts), 2)} hosts`, 16)}${parts.join('')}`);
    }
  }
  lines.push('');
  lines.push('CPU seconds, median: controller + lab hosts (one machine: both share its cores)', `${toolHeader}   runbook/ansible  runbook/floor`);
  for (const hosts of [...new Set(cells.map((c) => c.hosts))]) {
    for (const phase of PHASES) {
      const parts = TOOLS.map((t) => {
        const c = cellOf(cells, t, phase, hosts);
        const f = (/** @type {number | undefined} */ x) => (x === undefined ? '?' : x.toFixed(1));
        return lpad(c ? `${f(c.controllerCpuS)} + ${f(c.hostsCpuS)}` : '—', 18);
      });
      const x = rs.find((r) => r.hosts === hosts && r.phase === phase);
      const f2 = (/** @type {number | undefined} */ v) => (v === undefined ? '—' : v.toFixed(2));
      lines.push(`${pad(`${phase} ${lpad(String(hosts), 2)} hosts`, 16)}${parts.join('')}${lpad(f2(x?.cpuOverAnsible), 18)}${lpad(f2(x?.cpuOverFloor), 15)}`);
    }
  }
  const unchanged = cells.filter((c) => c.phase === 'warm' && c.changedMax > 0);
  if (unchanged.length) {
    lines.push('');
    for (const c of unchanged) lines.push(`note: a warm ${c.tool} run on ${c.hosts} hosts reported ${c.changedMax} changed results`);
  }
  if (startup) {
    lines.push('');
    lines.push('start-up, median');
    lines.push(`  runbook --version         ${startup.version.medianMs.toFixed(0)} ms   (node -e 0: ${startup.node.medianMs.toFixed(0)} ms)`);
    if (startup.versionWithoutExtraCa && startup.nodeWithoutExtraCa) {
      lines.push(`  without NODE_EXTRA_CA_CERTS ${startup.versionWithoutExtraCa.medianMs.toFixed(0)} ms   (node -e 0: ${startup.nodeWithoutExtraCa.medianMs.toFixed(0)} ms)`);
    }
    if (startup.ansibleVersion) lines.push(`  ansible-playbook --version ${startup.ansibleVersion.medianMs.toFixed(0)} ms (reference)`);
    // One line per product: every built-in playbook is validated, with its product's lab topology.
    /** @type {Map<string, NonNullable<typeof startup>['validate']>} */
    const byProduct = new Map();
    for (const v of startup.validate) byProduct.set(v.product, [...(byProduct.get(v.product) ?? []), v]);
    for (const [product, vs] of byProduct) {
      const slowest = vs.reduce((a, b) => (b.medianMs > a.medianMs ? b : a));
      const failed = vs.filter((v) => v.failed !== undefined);
      lines.push(
        `  runbook validate, ${pad(`${product} (${vs.length} playbooks)`, 32)} median ${lpad(median(vs.map((v) => v.medianMs)).toFixed(0), 4)} ms, slowest ${lpad(slowest.medianMs.toFixed(0), 4)} ms (${slowest.what.replace(/^runbook validate /, '')})` +
          (failed.length ? `; did not validate: ${failed.map((v) => `${v.what.replace(/^runbook validate /, '')} (${v.failed})`).join(', ')}` : ''),
      );
    }
    for (const [product, n] of Object.entries(startup.notValidated ?? {})) lines.push(`  (${n} ${product} playbooks not validated: no lab topology for them)`);
  }
  lines.push('');
  lines.push('targets (reported, not asserted)');
  for (const t of ts) {
    const mark = t.met === undefined ? 'n/a ' : t.met ? 'met ' : 'MISS';
    lines.push(`  ${mark}  ${pad(t.name, 42)} goal: ${pad(t.goal, 44)} measured: ${t.measured}`);
  }
  return lines.join('\n');
}

/** @param {string} s */
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const COLOURS = /** @type {Record<Tool, string>} */ ({ runbook: '#2b6cb0', ansible: '#dd6b20', floor: '#718096', 'floor+': '#a0aec0' });

/** A round axis step giving about 4–6 grid lines up to `max`. @param {number} max */
function niceStep(max) {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

/**
 * Three panels of grouped bars (cold wall time, warm wall time, peak memory),
 * one group per host count, one bar per tool, each labelled with its value.
 * @param {Cell[]} cells @param {Ratio[]} rs @param {{ title: string; subtitle: string }} o
 */
export function drawSvg(cells, rs, o) {
  const W = 960;
  const H = 500;
  const top = 118;
  const plotH = 270;
  const panelW = 290;
  const gap = 30;
  const left = 30;
  const hostCounts = [...new Set(cells.map((c) => c.hosts))].sort((a, b) => a - b);
  /** @type {Array<{ title: string; unit: string; value: (c: Cell) => number; fmt: (v: number) => string; phase: Phase | 'both' }>} */
  const panels = [
    { title: 'cold deploy (fresh hosts)', unit: 's', value: (c) => c.medianWallMs / 1000, fmt: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)), phase: 'cold' },
    { title: 'warm rerun (nothing to change)', unit: 's', value: (c) => c.medianWallMs / 1000, fmt: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)), phase: 'warm' },
    { title: 'controller peak memory (PSS)', unit: 'MB', value: (c) => c.peakPssMB, fmt: (v) => v.toFixed(0), phase: 'both' },
  ];
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">${esc(o.title)}</text>`);
  out.push(`<text x="${W / 2}" y="50" text-anchor="middle" fill="#4a5568">${esc(o.subtitle)}</text>`);
  // Legend
  CHART_TOOLS.forEach((t, i) => {
    const x = W / 2 - 150 + i * 110;
    out.push(`<rect x="${x}" y="62" width="12" height="12" fill="${COLOURS[t]}"/><text x="${x + 18}" y="72">${t === 'floor' ? 'floor (OpenSSH)' : t}</text>`);
  });
  panels.forEach((p, pi) => {
    const x0 = left + pi * (panelW + gap);
    const axisX = x0 + 40;
    const plotW = panelW - 50;
    /** @type {Array<{ hosts: number; phase: Phase; bars: Array<{ tool: Tool; v: number }> }>} */
    const groups = [];
    for (const hosts of hostCounts) {
      const phases = p.phase === 'both' ? /** @type {Phase[]} */ (['cold']) : [p.phase];
      for (const phase of phases) {
        const bars = CHART_TOOLS.flatMap((tool) => {
          if (p.phase === 'both') {
            // Memory: the highest of cold and warm for each tool.
            const both = cells.filter((c) => c.tool === tool && c.hosts === hosts);
            return both.length ? [{ tool, v: Math.max(...both.map(p.value)) }] : [];
          }
          const c = cellOf(cells, tool, phase, hosts);
          return c ? [{ tool, v: p.value(c) }] : [];
        });
        groups.push({ hosts, phase, bars });
      }
    }
    const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.v)));
    const step = niceStep(max);
    const yMax = Math.ceil((max * 1.08) / step) * step;
    const y = (/** @type {number} */ v) => top + plotH - (v / yMax) * plotH;
    out.push(`<text x="${x0 + panelW / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
    for (let v = 0; v <= yMax + step / 2; v += step) {
      out.push(`<line x1="${axisX}" x2="${axisX + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e2e8f0"/>`);
      out.push(`<text x="${axisX - 5}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#4a5568">${+v.toFixed(2)}</text>`);
    }
    out.push(`<text x="${x0 + 6}" y="${top + plotH / 2}" transform="rotate(-90 ${x0 + 6} ${top + plotH / 2})" text-anchor="middle" fill="#4a5568">${p.unit}</text>`);
    out.push(`<line x1="${axisX}" x2="${axisX}" y1="${top}" y2="${top + plotH}" stroke="#a0aec0"/>`);
    out.push(`<line x1="${axisX}" x2="${axisX + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#a0aec0"/>`);
    const groupW = plotW / Math.max(1, groups.length);
    groups.forEach((g, gi) => {
      const barW = Math.min(34, (groupW - 16) / CHART_TOOLS.length);
      const gx = axisX + gi * groupW + (groupW - barW * g.bars.length) / 2;
      g.bars.forEach((b, bi) => {
        const bx = gx + bi * barW;
        const by = y(b.v);
        out.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${(top + plotH - by).toFixed(1)}" fill="${COLOURS[b.tool]}"><title>${b.tool}, ${g.hosts} hosts: ${p.fmt(b.v)} ${p.unit}</title></rect>`);
        out.push(`<text x="${(bx + (barW - 3) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="10">${p.fmt(b.v)}</text>`);
      });
      out.push(`<text x="${(axisX + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${g.hosts} hosts</text>`);
      if (p.phase !== 'both') {
        const ratio = rs.find((x) => x.hosts === g.hosts && x.phase === g.phase);
        const parts = [];
        if (ratio?.runbookOverAnsible !== undefined) parts.push(`${(1 / ratio.runbookOverAnsible).toFixed(1)}× Ansible`);
        if (ratio?.runbookOverFloor !== undefined && g.phase === 'cold') parts.push(`${ratio.runbookOverFloor.toFixed(2)}× floor`);
        parts.forEach((part, k) => {
          out.push(`<text x="${(axisX + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 33 + k * 13}" text-anchor="middle" font-size="10" fill="#4a5568">${esc(part)}</text>`);
        });
      }
    });
  });
  out.push(`<text x="${W / 2}" y="${H - 30}" text-anchor="middle" font-size="11" fill="#4a5568">Bars: medians of the wall times; memory: the highest peak over cold and warm runs.</text>`);
  out.push(`<text x="${W / 2}" y="${H - 14}" text-anchor="middle" font-size="11" fill="#4a5568">"N× Ansible": runbook is N times faster than Ansible. "N× floor": runbook's time over plain parallel OpenSSH cat + unzip.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * The profile printed after the table: where runbook's time goes (start-up,
 * connecting, tasks, teardown) and each task's wall time next to Ansible's.
 * @param {Array<Record<string, any>>} profile  from run.mjs's profileOf
 */
export function formatProfile(profile) {
  const lines = ['profile, medians over the rounds (ms)'];
  lines.push(`  ${pad('runbook phases', 16)}${['start-up', 'connect', 'tasks', 'teardown', 'total'].map((h) => lpad(h, 10)).join('')}`);
  for (const p of profile.filter((x) => x['tool'] === 'runbook')) {
    const v = (/** @type {string} */ k) => lpad(p[k] === undefined ? '—' : String(p[k]), 10);
    lines.push(`  ${pad(`${p['phase']} ${lpad(String(p['hosts']), 2)} hosts`, 16)}${v('startupMs')}${v('connectMs')}${v('tasksMs')}${v('teardownMs')}${v('wallMs')}`);
  }
  for (const p of profile.filter((x) => x['tool'] === 'runbook')) {
    const an = profile.find((x) => x['tool'] === 'ansible' && x['phase'] === p['phase'] && x['hosts'] === p['hosts']);
    lines.push(`  task wall time, ${p['phase']} ${p['hosts']} hosts: runbook (median host, slowest host) | ansible`);
    for (const t of /** @type {Array<Record<string, any>>} */ (p['tasks'])) {
      const a = /** @type {Array<Record<string, any>> | undefined} */ (an?.['tasks'])?.find((x) => x['task'] === t['task']);
      lines.push(`    ${pad(String(t['task']), 28)}${lpad(String(t['wallMs']), 7)} (${t['hostMedianMs']}, ${t['hostMaxMs']})${lpad(a ? String(a['wallMs']) : '—', 10)}`);
    }
  }
  return lines.join('\n');
}
