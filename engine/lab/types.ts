// What the lab API returns. The CLI prints these with the helpers in format.ts.

export interface LabHost {
  /** Inventory name, e.g. node1. */
  name: string;
  index: number;
  /** The kernel hostname (`hostname`), e.g. node1. */
  hostname: string;
  /** The fully qualified name (`hostname -f`), `<host>.<lab>.runbook`, e.g. node1.default.runbook. */
  fqdn: string;
  address: string;
  netns: string;
  /** Controller end of the host's veth pair. */
  veth: string;
  /** sshd, PID 1 of the host's pid namespace, as seen from the controller. */
  sshdPid: number;
}

export interface LabState {
  name: string;
  subnet: string;
  bridge: string;
  controllerAddress: string;
  stateDir: string;
  inventoryPath: string;
  privateKeyFile: string;
  knownHostsFile: string;
  /** Bind-mounted as /etc/hosts on every host. */
  hostsFile: string;
  /** The controller's hosts file, which carries the lab's block of FQDNs while it is up. */
  controllerHostsFile: string;
  hosts: LabHost[];
  /** How many hosts this `up` asked for. */
  requested: number;
  /** Hosts this `up` created. */
  added: string[];
  /** Hosts whose sshd was found dead (e.g. after a reboot) and started again. */
  restarted: string[];
}

export interface LabHostStatus {
  name: string;
  address: string;
  /** The hostname the host reports, or undefined when it could not be asked. */
  hostname: string | undefined;
  expectedHostname: string;
  /** `<host>.<lab>.runbook`: resolved by every lab host, and by the controller while the lab is up. */
  fqdn: string;
  netns: string;
  sshdPid: number;
  sshdAlive: boolean;
  /** The host's named network namespace exists. */
  netnsPresent: boolean;
  /** An SSH banner came back from address:22. */
  port22Reachable: boolean;
  /** sshd alive inside the host's namespace and answering: the host is usable. */
  healthy: boolean;
}

export interface LabStatus {
  name: string;
  /** False when the lab has no recorded state (never brought up, or brought down). */
  exists: boolean;
  stateDir: string;
  subnet: string | undefined;
  bridge: string | undefined;
  inventoryPath: string | undefined;
  /** The controller's hosts file, and whether it carries the lab's block of host names. */
  controllerHostsFile: string;
  controllerNames: boolean;
  hosts: LabHostStatus[];
}

export interface LabDownResult {
  /** One line per thing removed: processes, veths, namespaces, the bridge, the state folder. */
  removed: string[];
}
