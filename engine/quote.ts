// POSIX shell quoting. Remote login shells may be dash, so we never use bash's
// $'…' form: every word is wrapped in single quotes and each embedded ' becomes '\''.

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word so any POSIX shell reads it back byte for byte. */
export function quote(word: string | number | bigint | boolean): string {
  const s = String(word);
  if (s === '') return "''";
  if (SAFE_WORD.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Text that `sh` inserts as it is (an operator, a redirection, a trusted fragment). */
export class RawShell {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Mark trusted shell text that `sh` must not quote. */
export function raw(text: string): RawShell {
  return new RawShell(text);
}

export type ShellValue = string | number | bigint | boolean | RawShell | ReadonlyArray<string | number | RawShell>;

function interpolate(value: ShellValue): string {
  if (value instanceof RawShell) return value.text;
  if (Array.isArray(value)) return value.map((v) => interpolate(v as ShellValue)).join(' ');
  return quote(value as string);
}

/**
 * Tagged template that builds a shell command with every interpolation quoted.
 * Arrays expand to separately quoted words; `raw()` passes trusted text through.
 *
 *   sh`unzip -o ${archive} -d ${dest}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += interpolate(value) + (strings[i + 1] ?? '');
  });
  return out;
}

/** Join an argv list into one command line, each word quoted. */
export function argv(words: ReadonlyArray<string | number>): string {
  return words.map((w) => quote(w)).join(' ');
}

/** Wrap a command so it runs under `sh -c`, whatever the login shell is. */
export function shC(command: string): string {
  return `sh -c ${quote(command)}`;
}
