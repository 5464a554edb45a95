// `runbook lab`: real SSH hosts on this one machine, each a set of Linux
// namespaces with its own sshd, for trying playbooks and for tests. The CLI
// calls these functions and prints their results with the format helpers.

export { labUp, loadLab, type LabUpOptions } from './up.js';
export { labStatus, type LabStatusOptions } from './status.js';
export { labDown, type LabDownOptions } from './down.js';
export { labPackage, buildLabPackage, defaultPackagesDir, type LabPackageOptions, type LabPackageResult } from './package.js';
export { formatLabUp, formatLabStatus, formatLabDown, formatLabPackage } from './format.js';
export { LabError, type LabErrorCode } from './errors.js';
export { DEFAULT_LAB } from './layout.js';
export { DEFAULT_SUBNET } from './subnet.js';
export { simulatedPackages } from './packages/index.js';
export type { SimulatedPackage } from './packages/types.js';
export type { LabDownResult, LabHost, LabHostStatus, LabState, LabStatus } from './types.js';
