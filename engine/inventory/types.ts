// The normalised inventory every loader produces: runbook's own form, Ansible's
// YAML layout, and product topologies (through their adapters) all end here.

import type { SourceFile } from '../source.js';
import type { Secret } from '../secret.js';
import type { SourceLocation } from '../errors.js';

export interface HostAuth {
  password?: Secret | undefined;
  privateKeyFile?: string | undefined;
  passphrase?: Secret | undefined;
  /** Use ssh-agent at this socket (default: $SSH_AUTH_SOCK when set). */
  agent?: string | undefined;
}

export interface InventoryHost {
  /** Unique inventory name (for product topologies: the node's name). */
  name: string;
  /** Address to connect to. */
  address: string;
  port: number;
  user: string;
  auth: HostAuth;
  /** `local` runs on the controller without SSH. */
  connection: 'ssh' | 'local';
  /** known_hosts file to check this host's key against. */
  knownHostsFile?: string | undefined;
  /** Groups the host belongs to (without `all`). */
  groups: string[];
  /** The host's variables after precedence (global < group < host). */
  vars: Record<string, unknown>;
  /** Other names that select this host with --limit / -N (for IoTDB: ip:port). */
  aliases: string[];
  /** Where the host is declared, for error messages. */
  location?: SourceLocation | undefined;
}

export interface InventoryGroup {
  name: string;
  /** Every host in the group, including through child groups, in inventory order. */
  hosts: string[];
  vars: Record<string, unknown>;
  /** Direct child groups, as declared. */
  children?: string[] | undefined;
  /** Where the group is declared, for error messages. */
  location?: SourceLocation | undefined;
}

/** Something legal but risky in an inventory (a plaintext password in a shared file); the CLI prints these. */
export interface InventoryWarning {
  message: string;
  location?: SourceLocation | undefined;
  hint?: string | undefined;
}

export interface Inventory {
  /** The file it was loaded from. */
  path: string;
  source?: SourceFile | undefined;
  /** Product named by the topology (`iotdb`, …), used to find built-in playbooks. */
  product?: string | undefined;
  /** Global vars (lowest inventory precedence). */
  vars: Record<string, unknown>;
  hosts: Map<string, InventoryHost>;
  /** Declared groups; `all` is implicit and not stored here. */
  groups: Map<string, InventoryGroup>;
  warnings?: InventoryWarning[] | undefined;
}

/**
 * A product adapter turns a product topology file (for example an iotdbctl
 * cluster yaml) into hosts, groups and per-host vars. It validates the
 * topology and reports errors at their yaml line.
 */
export interface ProductAdapter {
  product: string;
  /** Whether this adapter recognises a document without `product:` (by its keys). */
  recognises(doc: Record<string, unknown>): boolean;
  load(source: SourceFile, doc: Record<string, unknown>): Inventory;
}
