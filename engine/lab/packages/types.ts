// A simulated product package: a test double that keeps the vendor's archive
// layout, script names, config files and default ports, with small servers
// that enforce the documented rules. Always labelled simulated.

export interface SimulatedPackage {
  product: string;
  /** Version string; must contain "simulated". */
  version: string;
  /** File name of the archive, as the vendor names it (e.g. apache-iotdb-1.3.0-all-bin.zip). */
  archiveName: string;
  /** Name of the single top-level folder inside the archive. */
  topDir: string;
  format: 'zip' | 'tar.gz';
  description: string;
  /** Write the package's files into `dir` (which becomes `topDir` in the archive). */
  build(dir: string): Promise<void>;
  /** The same package at another version (`runbook lab package <product> --version V`); absent when only one is built. */
  withVersion?(version: string): SimulatedPackage;
  /** Files written beside the archive (e.g. licenses); returns their paths. */
  besides?(outDir: string): Promise<string[]>;
}
