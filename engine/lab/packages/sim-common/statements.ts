// The clients' statement splitting, the same for every simulated product's CLI.

/** Split a client's input into statements on `;` outside quotes ('…', "…", `…`), trimmed, empty ones dropped. */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = null;
      cur += c;
    } else if (c === "'" || c === '"' || c === '`') {
      quote = c;
      cur += c;
    } else if (c === ';') {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}
