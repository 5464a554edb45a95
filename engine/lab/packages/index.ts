// The simulated products `runbook lab package` can build. Adding one is one
// import and one line below; the package folder holds everything else.

import { demoPackage } from './demo/index.js';
import iotdbPackage from './iotdb/index.js';
import type { SimulatedPackage } from './types.js';

export type { SimulatedPackage } from './types.js';

export const simulatedPackages: Record<string, SimulatedPackage> = {
  [demoPackage.product]: demoPackage,
  [iotdbPackage.product]: iotdbPackage,
};
