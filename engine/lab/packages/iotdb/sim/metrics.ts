// The Prometheus reporter of a simulated node. IoTDB 1.3 serves its metrics
// in Prometheus' text format at http://<host>:<port>/metrics when
// cn_metric_reporter_list / dn_metric_reporter_list contains PROMETHEUS, on
// cn_metric_prometheus_reporter_port (default 9091) or
// dn_metric_prometheus_reporter_port (default 9092), on every address.
//
// The values are the simulator's own process figures (memory, CPU time,
// uptime), labelled like IoTDB's (cluster, nodeType, nodeId), plus a build
// info series that says the node is simulated; enough for Prometheus to
// scrape, store and show, not IoTDB's full metric set.

import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { NodeConfig, VersionInfo } from './config.js';
import type { NodeLog, Role } from './log.js';
import { readIdentity } from './node-base.js';

const PREFIX: Record<Role, 'cn' | 'dn'> = { confignode: 'cn', datanode: 'dn' };

/** Whether this node reports to Prometheus, and where; null when the reporter list leaves PROMETHEUS out. */
export function metricsSettings(role: Role, cfg: NodeConfig): { port: number; level: string } | null {
  const p = PREFIX[role];
  const reporters = cfg.get(`${p}_metric_reporter_list`).split(',').map((r) => r.trim().toUpperCase());
  if (!reporters.includes('PROMETHEUS')) return null;
  return { port: cfg.port(`${p}_metric_prometheus_reporter_port`), level: cfg.get(`${p}_metric_level`) || 'IMPORTANT' };
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function exposition(role: Role, cfg: NodeConfig, version: VersionInfo, started: number): string {
  const systemDir = role === 'confignode' ? cfg.configNode().systemDir : cfg.dataNode().systemDir;
  const identity = readIdentity(join(systemDir, role === 'confignode' ? 'confignode-system.properties' : 'system.properties'), role === 'confignode' ? 'config_node_id' : 'data_node_id');
  const labels = `cluster="${escapeLabel(cfg.get('cluster_name'))}",nodeType="${role === 'confignode' ? 'ConfigNode' : 'DataNode'}",nodeId="${identity?.nodeId ?? -1}"`;
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const lines = [
    '# HELP iotdb_build_info The node\'s version; build_info "simulated" marks runbook\'s test double.',
    '# TYPE iotdb_build_info gauge',
    `iotdb_build_info{${labels},version="${escapeLabel(version.version)}",build_info="${escapeLabel(version.buildInfo)}"} 1`,
    '# HELP process_mem_used Resident memory of the node process, in bytes.',
    '# TYPE process_mem_used gauge',
    `process_mem_used{${labels},name="process"} ${mem.rss}`,
    '# HELP process_cpu_time CPU time used by the node process, in nanoseconds.',
    '# TYPE process_cpu_time gauge',
    `process_cpu_time{${labels},name="process"} ${(cpu.user + cpu.system) * 1000}`,
    '# HELP up_time Seconds since the node started.',
    '# TYPE up_time gauge',
    `up_time{${labels}} ${((Date.now() - started) / 1000).toFixed(3)}`,
  ];
  return lines.join('\n') + '\n';
}

/**
 * Serve /metrics when the properties ask for it. A port that cannot be bound
 * is logged as an error and the node keeps running, as IoTDB's reporter does.
 */
export async function startMetricsReporter(role: Role, cfg: NodeConfig, log: NodeLog, version: VersionInfo): Promise<Server | null> {
  const settings = metricsSettings(role, cfg);
  if (!settings) return null;
  const started = Date.now();
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(exposition(role, cfg, version, started));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Not found: the Prometheus reporter serves /metrics\n');
  });
  return new Promise((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'java.net.BindException: Address already in use' : e.message;
      log.error(`Failed to start the Prometheus reporter on port ${settings.port}: ${why}. Metrics are not reported.`, 'Metric-Service');
      resolve(null);
    });
    server.listen({ port: settings.port, exclusive: true }, () => {
      server.unref();
      log.info(`Prometheus reporter started: metrics (level ${settings.level}) at http://0.0.0.0:${settings.port}/metrics`, 'Metric-Service');
      resolve(server);
    });
  });
}
