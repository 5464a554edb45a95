// Services a started node runs beside its RPC servers: the Prometheus
// reporter (both node types, when the properties enable it) and, on
// DataNodes, the pipe agent that sends this DataNode's writes to the sinks of
// running pipes. main.ts calls startNodeServices() once the node has started;
// both live as long as the node's process.

import { join } from 'node:path';
import { NodeConfig, readVersion } from './config.js';
import { NodeLog, type Role } from './log.js';
import { errorMessage } from './node-base.js';
import { startMetricsReporter } from './metrics.js';
import { startPipeAgent } from './pipes.js';

const LOGGER: Record<Role, string> = { confignode: 'o.a.i.confignode.service.ConfigNode', datanode: 'o.a.i.db.service.DataNode' };

export async function startNodeServices(role: Role, opts: { home: string; confDir: string; foreground: boolean }): Promise<void> {
  const log = new NodeLog(join(opts.home, 'logs'), role, LOGGER[role], opts.foreground);
  let cfg: NodeConfig;
  try {
    cfg = new NodeConfig(opts.home, opts.confDir);
  } catch (e) {
    // The node itself read this configuration a moment ago; say so rather than take it down.
    log.error(`Node services not started: cannot read the configuration: ${errorMessage(e)}`);
    return;
  }
  // The node is up and serving: a service that cannot start is logged, and the node keeps running.
  try {
    await startMetricsReporter(role, cfg, log, readVersion(opts.home));
  } catch (e) {
    log.error(`The Prometheus reporter did not start: ${errorMessage(e)}`, 'Metric-Service');
  }
  // Writes and pipe changes wake the agent at once; the rounds only retry failed sinks, so a second apart is enough.
  if (role === 'datanode') startPipeAgent({ cfg, log, intervalMs: Math.max(cfg.heartbeatMs(), 1000) });
}
