// Builds an Inventory directly, so scheduler tests do not depend on a loader.

import type { Inventory, InventoryHost } from '../../engine/inventory/types.js';

export function makeInventory(hosts: Record<string, Record<string, unknown>>, groups: Record<string, string[]> = {}): Inventory {
  const inv: Inventory = { path: '/test/inventory.yaml', vars: {}, hosts: new Map(), groups: new Map() };
  let i = 10;
  for (const [name, vars] of Object.entries(hosts)) {
    const host: InventoryHost = {
      name,
      address: `198.19.0.${i++}`,
      port: 22,
      user: 'root',
      auth: {},
      connection: 'ssh',
      groups: Object.entries(groups).filter(([, hs]) => hs.includes(name)).map(([g]) => g),
      vars: { ...vars },
      aliases: [],
    };
    inv.hosts.set(name, host);
  }
  for (const [name, hs] of Object.entries(groups)) inv.groups.set(name, { name, hosts: hs, vars: {} });
  return inv;
}
