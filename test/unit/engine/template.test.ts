import { describe, expect, test } from 'vitest';
import { evaluate, evaluateBool } from '../../../engine/expr.js';
import { referencedVariables, renderDeep, renderShell, renderString, renderValue } from '../../../engine/template.js';

describe('templates', () => {
  test('a single reference keeps the value\'s type', () => {
    expect(renderValue('{{ ports }}', { ports: [1, 2] })).toEqual([1, 2]);
    expect(renderValue('{{ a.b }}', { a: { b: 3 } })).toBe(3);
    expect(renderDeep({ x: ['{{ n }}', 'n={{ n }}'] }, { n: 5 })).toEqual({ x: [5, 'n=5'] });
  });

  test('no HTML escaping', () => {
    expect(renderString('{{ v }}', { v: '<a&b>"' })).toBe('<a&b>"');
  });

  test('an undefined variable is an error naming it, never an empty string', () => {
    expect(() => renderString('port={{ prot }}', { port: 1 }, { source: 'conf.hbs' })).toThrow('undefined variable "prot" in conf.hbs');
    expect(() => renderValue('{{ missing }}', {})).toThrow('undefined variable "missing"');
  });

  test('a missing middle part of a path is named precisely', () => {
    expect(() => renderString('{{ hostvars.b.x }} and more', { hostvars: { a: {} } })).toThrow('undefined variable "hostvars.b"');
  });

  test('optional values with #if do not fail', () => {
    expect(renderString('{{#if extra}}x{{/if}}ok', {})).toBe('ok');
  });

  test('syntax errors are reported as such', () => {
    expect(() => renderString('{{#if x}}unclosed', { x: 1 })).toThrow('template syntax error');
  });

  test('referenced top-level names, ignoring names inside blocks', () => {
    expect(referencedVariables('{{ a.b }} {{#each list}}{{ name }}{{/each}} {{ default c "x" }}').sort()).toEqual(['a', 'c', 'list']);
  });
});

describe('conditions (CEL)', () => {
  test('over registered results and facts', () => {
    const vars = { r: { rc: 0, rows: [{ Status: 'Running' }, { Status: 'Running' }] }, n: 3 };
    expect(evaluateBool('r.rc == 0 && r.rows.all(x, x.Status == "Running")', vars)).toBe(true);
    expect(evaluate('size(r.rows) + n', vars)).toBe(5);
  });

  test('an undefined variable is named, with a hint', () => {
    expect(() => evaluate('nope == 1', {})).toThrow('uses undefined variable "nope"');
  });

  test('a non-boolean result is refused', () => {
    expect(() => evaluateBool('1 + 1', {})).toThrow('not true or false');
  });

  test('no JavaScript escapes: eval-like input is just a parse error', () => {
    expect(() => evaluate('process.exit(1)', {})).toThrow();
  });
});

describe('shell code (run cmd): values are quoted by construction', () => {
  const hostile = ["it's; touch /tmp/CANARY", '$(id)', '`id`', 'a b', 'x\ny', ''];

  test('each value is one literal word, read back byte for byte by sh', async () => {
    const { execFileSync } = await import('node:child_process');
    for (const v of hostile) {
      const cmd = renderShell('printf %s {{ v }}', { v });
      expect(execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' })).toBe(v);
    }
  });

  test('helpers and paths are quoted too; {{{ }}} inserts trusted shell text', () => {
    expect(renderShell('ls {{ dir }}/bin {{ join xs "," }}', { dir: '/opt/my dir', xs: ['a', 'b c'] })).toBe("ls '/opt/my dir'/bin 'a,b c'");
    expect(renderShell('{{ list }}', { list: ['a b', 'c'] })).toBe("'a b' c");
    expect(renderShell('echo {{{ raw }}}', { raw: '$HOME | wc' })).toBe('echo $HOME | wc');
    expect(renderShell('{{#if on}}start {{ name }}{{/if}}', { on: true, name: 'x;y' })).toBe("start 'x;y'");
  });

  test('an undefined variable is still an error naming it', () => {
    expect(() => renderShell('echo {{ nope }} and {{ x }}', { x: 1 })).toThrow('undefined variable "nope"');
    expect(() => renderShell('echo {{ a.b }} more', { a: {} })).toThrow('undefined variable "a.b"');
  });
});
