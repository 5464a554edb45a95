import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../../engine/errors.js';
import { Secret, secretMasker } from '../../../engine/secret.js';
import { renderString, renderValue } from '../../../engine/template.js';

describe('secrets', () => {
  const s = new Secret('hunter2-secret', 'env:PW');

  test('never print themselves', () => {
    expect(String(s)).toBe('********');
    expect(JSON.stringify({ pw: s })).toBe('{"pw":"********"}');
    expect(inspect(s)).toBe('Secret(env:PW)');
    expect(`${s}`).not.toContain('hunter2');
  });

  test('are scrubbed from any text, error messages included', () => {
    expect(secretMasker.mask('login with hunter2-secret failed')).toBe('login with ******** failed');
    const err = new InputError('bad password hunter2-secret', { hint: 'not hunter2-secret' });
    expect(err.format()).not.toContain('hunter2');
  });

  test('render masked in arguments, real only where asked (config files)', () => {
    expect(renderString('pw={{ pw }}', { pw: s })).toBe('pw=********');
    expect(renderString('pw={{ pw }}', { pw: s }, { revealSecrets: true })).toBe('pw=hunter2-secret');
    expect(renderValue('{{ pw }}', { pw: s })).toBe(s);
  });
});
