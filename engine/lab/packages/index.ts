// The simulated products `runbook lab package` can build. Adding one is one
// import and one line below; the package folder holds everything else.

import { demoPackage } from './demo/index.js';
import dolphindbPackage from './dolphindb/index.js';
import grafanaPackage from './grafana/index.js';
import iotdbPackage from './iotdb/index.js';
import openmldbPackage from './openmldb/index.js';
import { prometheusPackage } from './prometheus/index.js';
import tdenginePackage from './tdengine/index.js';
import { zookeeperPackage } from './zookeeper/index.js';
import type { SimulatedPackage } from './types.js';

export type { SimulatedPackage } from './types.js';

export const simulatedPackages: Record<string, SimulatedPackage> = {
  [demoPackage.product]: demoPackage,
  [dolphindbPackage.product]: dolphindbPackage,
  [grafanaPackage.product]: grafanaPackage,
  [iotdbPackage.product]: iotdbPackage,
  [openmldbPackage.product]: openmldbPackage,
  // Not simulated: Debian's real binary, packed as upstream's archive.
  [prometheusPackage.product]: prometheusPackage,
  [tdenginePackage.product]: tdenginePackage,
  // Not simulated: Debian's real ZooKeeper, packed as upstream's archive.
  [zookeeperPackage.product]: zookeeperPackage,
};
