// Folders on the product machines, as every adapter handles them: POSIX
// paths, normalised once, compared as folders (not as strings), and put into
// process patterns literally.

import { posix } from 'node:path';

/** Normalised, without a trailing slash (except the root). */
export function normaliseDir(dir: string): string {
  return posix.normalize(dir).replace(/(.)\/+$/, '$1');
}

/** Whether `child` is `parent` or a folder below it (both normalised first). */
export function isInside(child: string, parent: string): boolean {
  const c = posix.normalize(child);
  const p = posix.normalize(parent);
  return c === p || c.startsWith(p.endsWith('/') ? p : `${p}/`);
}

/** Drop duplicates and folders inside another listed folder; keep the first-seen order. */
export function outermost(dirs: readonly string[]): string[] {
  const unique = [...new Set(dirs)];
  return unique.filter((d) => !unique.some((o) => o !== d && isInside(d, o)));
}

/** `s` matched literally inside a regular expression (pgrep -f patterns). */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
