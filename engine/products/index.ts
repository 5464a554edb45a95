// The products runbook knows out of the box. Each product registers its
// topology adapter here, one line per product, so the inventory loader never
// names a product itself. The CLI calls registerBuiltinProducts() once.

import { registerProductAdapter } from '../inventory/adapters.js';
import { dolphindbTopologyAdapter } from './dolphindb/topology.js';
import { iotdbTopologyAdapter } from './iotdb/topology.js';
import { iotdbDualActiveAdapter } from './iotdb-dual-active/pair.js';
import { openmldbTopologyAdapter } from './openmldb/topology.js';
import { tdengineTopologyAdapter } from './tdengine/topology.js';

export function registerBuiltinProducts(): void {
  registerProductAdapter(iotdbTopologyAdapter);
  registerProductAdapter(iotdbDualActiveAdapter);
  registerProductAdapter(openmldbTopologyAdapter);
  registerProductAdapter(tdengineTopologyAdapter);
  registerProductAdapter(dolphindbTopologyAdapter);
}
