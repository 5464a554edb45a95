// Product topology files (an iotdbctl cluster yaml, …) become inventories
// through adapters that products register here, so the loader never needs to
// know which products exist: adding one is a registration, not an edit.

import type { ProductAdapter } from './types.js';

const registry = new Map<string, ProductAdapter>();

/** Register (or replace) the adapter for `adapter.product`. */
export function registerProductAdapter(adapter: ProductAdapter): void {
  registry.set(adapter.product, adapter);
}

/** Remove a product's adapter; for tests that register throwaway adapters. */
export function unregisterProductAdapter(product: string): boolean {
  return registry.delete(product);
}

export function registeredAdapters(extra: readonly ProductAdapter[] = []): ProductAdapter[] {
  // Extra adapters come first so that a caller can override a registered one.
  const seen = new Set<string>();
  const out: ProductAdapter[] = [];
  for (const a of [...extra, ...registry.values()]) {
    if (seen.has(a.product)) continue;
    seen.add(a.product);
    out.push(a);
  }
  return out;
}

/**
 * The adapter for a document: the one named by its `product:` key, or else the
 * first whose recognises() accepts it. A `product:` naming no adapter gives
 * undefined (the loader reports it with the known names).
 */
export function findAdapter(doc: Record<string, unknown>, extra: readonly ProductAdapter[] = []): ProductAdapter | undefined {
  const adapters = registeredAdapters(extra);
  if ('product' in doc) return adapters.find((a) => a.product === doc.product);
  return adapters.find((a) => safeRecognises(a, doc));
}

function safeRecognises(adapter: ProductAdapter, doc: Record<string, unknown>): boolean {
  // recognises() only looks at keys; an adapter that throws on an unexpected
  // shape simply does not recognise the document.
  try {
    return adapter.recognises(doc);
  } catch {
    return false;
  }
}
