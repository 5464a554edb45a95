// Secrets are a type: their text is reachable only through reveal(), and every
// value ever revealed is registered with the masker so that reporters, logs,
// the journal and error messages can scrub it from any text they print.

const MASK = '********';

export class Secret {
  readonly #value: string;
  /** Where the secret came from (`env:IOTDB_PW`, `file:/etc/pw`, `inline`), safe to print. */
  readonly origin: string;

  constructor(value: string, origin = 'inline') {
    this.#value = value;
    this.origin = origin;
    secretMasker.add(value);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.origin})`;
  }
}

export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}

/** Replaces every known secret value in text with a fixed mask. */
export class SecretMasker {
  readonly #values = new Set<string>();

  add(value: string): void {
    // Very short values would mask ordinary words ("a", "1"); a secret that
    // short is not worth protecting this way, and would make output unreadable.
    if (value.length >= 3) this.#values.add(value);
  }

  /**
   * True when text holds any registered secret, whole or inside a longer
   * string (a connection string with a password in it): text that must not
   * go where it could be read, such as a remote command line.
   */
  contains(text: string): boolean {
    for (const v of this.#values) if (text.includes(v)) return true;
    return false;
  }

  mask(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    let out = text;
    // Longest first, so a secret that contains another is masked whole.
    for (const v of [...this.#values].sort((a, b) => b.length - a.length)) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  }

  /** Deep copy of a value with secrets masked; safe for JSON output. */
  maskValue(value: unknown): unknown {
    if (value instanceof Secret) return MASK;
    if (typeof value === 'string') return this.mask(value);
    if (Array.isArray(value)) return value.map((v) => this.maskValue(v));
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.maskValue(v);
      return out;
    }
    return value;
  }

  get size(): number {
    return this.#values.size;
  }
}

/** The process-wide masker: one run, one set of secrets. */
export const secretMasker = new SecretMasker();

export const SECRET_MASK = MASK;
