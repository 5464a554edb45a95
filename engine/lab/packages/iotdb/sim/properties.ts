// Java .properties syntax as java.util.Properties#load reads it. Operators and
// tools (iotdbctl's distribute, our own templates) edit iotdb-system.properties
// by hand or by appending, so the simulator must read exactly what IoTDB reads:
// `#`/`!` comments, `=`/`:`/whitespace separators, backslash continuations and
// escapes. Values are kept verbatim here; IoTDB trims them when it reads keys,
// which config.ts does.

const WS = new Set([' ', '\t', '\f']);

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function skipWs(s: string, from: number): number {
  let i = from;
  while (i < s.length && WS.has(s[i]!)) i++;
  return i;
}

function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i === s.length - 1) {
      out += c;
      continue;
    }
    const n = s[++i]!;
    switch (n) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`Malformed \\uxxxx encoding: \\u${hex}`);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default: out += n;
    }
  }
  return out;
}

/** Parse .properties text; later duplicates win, as in java.util.Properties. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  let i = 0;
  while (i < lines.length) {
    const natural = lines[i++]!;
    let logical = natural.slice(skipWs(natural, 0));
    // A comment is decided on the first natural line only, and comment lines
    // never continue, even when they end in a backslash.
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    while (endsWithOddBackslashes(logical)) {
      logical = logical.slice(0, -1);
      if (i >= lines.length) break;
      const next = lines[i++]!;
      logical += next.slice(skipWs(next, 0));
    }
    let k = 0;
    let rawKey = '';
    while (k < logical.length) {
      const c = logical[k]!;
      if (c === '\\' && k + 1 < logical.length) {
        rawKey += c + logical[k + 1]!;
        k += 2;
        continue;
      }
      if (c === '=' || c === ':' || WS.has(c)) break;
      rawKey += c;
      k++;
    }
    let v = skipWs(logical, k);
    if (v < logical.length && (logical[v] === '=' || logical[v] === ':')) v = skipWs(logical, v + 1);
    out.set(unescape(rawKey), unescape(logical.slice(v)));
  }
  return out;
}

function escape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\f') out += '\\f';
    else if ((isKey || i === 0) && c === ' ') out += '\\ ';
    else if (isKey && (c === '=' || c === ':')) out += '\\' + c;
    else if (i === 0 && (c === '#' || c === '!')) out += '\\' + c;
    else out += c;
  }
  return out;
}

/** Render key=value lines that parseProperties reads back unchanged. */
export function formatProperties(entries: Iterable<[string, string]>, header: string[] = []): string {
  const lines = header.map((h) => `# ${h}`);
  for (const [k, v] of entries) lines.push(`${escape(k, true)}=${escape(v, false)}`);
  return lines.join('\n') + '\n';
}
