import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { argv, quote, raw, sh, shC } from '../../../engine/quote.js';

const hostile = [
  '',
  'plain',
  'two words',
  "it's",
  "''",
  '"double"',
  '$(touch /tmp/runbook-pwned)',
  '`id`',
  '$HOME',
  'a\nb',
  'tab\there',
  '; rm -rf /',
  '*',
  '~root',
  '-n',
  '\\',
  "'\\''",
  'ünïcødé ✓',
];

// Echo each argument on its own line, NUL-safe enough for these strings.
const printArgs = `for a in "$@"; do printf '[%s]' "$a"; done`;

describe('POSIX quoting', () => {
  for (const shell of ['/bin/sh', '/bin/dash', '/bin/bash']) {
    test(`${shell} reads every hostile word back byte for byte`, () => {
      const cmd = `set -- ${hostile.map((w) => quote(w)).join(' ')}; ${printArgs}`;
      const out = execFileSync(shell, ['-c', cmd], { encoding: 'utf8' });
      expect(out).toBe(hostile.map((w) => `[${w}]`).join(''));
    });
  }

  test('the sh tag quotes interpolations, expands arrays, passes raw()', () => {
    const words = ['a b', "c'd"];
    expect(sh`ls ${'/opt/my dir'} ${words} ${raw('| wc -l')}`).toBe(`ls '/opt/my dir' 'a b' 'c'\\''d' | wc -l`);
    expect(argv(['echo', '$x'])).toBe(`echo '$x'`);
  });

  test('shC wraps a command for sh -c whatever the login shell', () => {
    const out = execFileSync('/bin/bash', ['-c', shC(`printf %s ${quote("it's $(x)")}`)], { encoding: 'utf8' });
    expect(out).toBe("it's $(x)");
  });
});
