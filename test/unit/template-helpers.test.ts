import { describe, expect, test } from 'vitest';
import { Secret } from '../../engine/secret.js';
import { renderString } from '../../engine/template.js';
import { cfgLines, csvLines, generatedHeader, kvSpaceLines, propertiesEscape, propertiesLines } from '../../engine/template-helpers.js';

/** What java.util.Properties.load() would read back from one escaped value (enough of it to check round trips). */
function javaUnescape(text: string): string {
  let out = '';
  let i = 0;
  // load() skips whitespace before a value; an escaped space is part of it.
  while (text[i] === ' ' || text[i] === '\t' || text[i] === '\f') i++;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = text[++i]!;
    if (n === 'u') {
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16));
      i += 4;
    } else out += ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[n] ?? n;
  }
  return out;
}

/** One key=value line as Properties.load() splits it: the key ends at the first unescaped =, : or whitespace. */
function javaLoadLine(line: string): [string, string] {
  let k = 0;
  while (k < line.length && !'=: \t\f'.includes(line[k]!)) k += line[k] === '\\' ? 2 : 1;
  let v = k;
  while (v < line.length && ' \t\f'.includes(line[v]!)) v++;
  if (line[v] === '=' || line[v] === ':') v++;
  return [javaUnescape(line.slice(0, k)), javaUnescape(line.slice(v))];
}

describe('properties', () => {
  test.each([
    ['plain', 'data/datanode/data', 'data/datanode/data'],
    ['backslash (a Windows path)', 'C:\\iotdb\\data', 'C:\\\\iotdb\\\\data'],
    ['separators and comment starters stay readable in a value', '#a=b:c!d', '#a=b:c!d'],
    ['host:port as IoTDB writes it', '10.0.0.1:10710', '10.0.0.1:10710'],
    ['one leading space', ' x', '\\ x'],
    ['several leading spaces: only the first needs escaping', '   x y', '\\   x y'],
    ['inner and trailing spaces stay', 'a b ', 'a b '],
    ['line breaks and tabs', 'l1\nl2\r\tend\f', 'l1\\nl2\\r\\tend\\f'],
    ['other control characters', 'a\u0001b\u007f', 'a\\u0001b\\u007F'],
    ['non-ASCII', 'café 数据', 'caf\\u00E9 \\u6570\\u636E'],
    ['beyond the BMP as a surrogate pair', '😀', '\\uD83D\\uDE00'],
    ['empty', '', ''],
  ])('%s', (_name, input, want) => {
    expect(propertiesEscape(input)).toBe(want);
    expect(javaUnescape(want)).toBe(input);
  });

  test('keys escape every space, the separators and the comment starters', () => {
    expect(propertiesEscape('my key=1', { key: true })).toBe('my\\ key\\=1');
    expect(propertiesEscape('#a:b!', { key: true })).toBe('\\#a\\:b\\!');
  });

  test.each([
    ['a', 'b=c:d'],
    ['#not a comment', ' leading'],
    ['k:=', '!x'],
    ['ü key', 'v\\w\nx'],
  ])('a line for key %j and value %j loads back as the same pair', (key, value) => {
    const line = `${propertiesEscape(key, { key: true })}=${propertiesEscape(value)}`;
    expect(line.startsWith('#') || line.startsWith('!')).toBe(false);
    expect(javaLoadLine(line)).toEqual([key, value]);
  });

  test('a map renders as key=value lines, nested maps as dotted keys, lists comma-joined, nulls left out', () => {
    expect(
      propertiesLines({
        dn_rpc_address: '0.0.0.0',
        dn_rpc_port: 6667,
        dn_data_dirs: ['data/a', 'data/b'],
        enabled: true,
        skipped: null,
        jmx: { port: 31999, 'the host': 'h#1' },
      }),
    ).toBe(['dn_rpc_address=0.0.0.0', 'dn_rpc_port=6667', 'dn_data_dirs=data/a,data/b', 'enabled=true', 'jmx.port=31999', 'jmx.the\\ host=h#1'].join('\n'));
  });

  test('through a template: a value, and a map', () => {
    const out = renderString('cn_seed_config_node={{properties seed}}\n{{properties extra}}\n', {
      seed: '10.0.0.1:10710',
      extra: { a: 'x y', b: 'ü' },
    });
    expect(out).toBe('cn_seed_config_node=10.0.0.1:10710\na=x y\nb=\\u00FC\n');
  });

  test('a secret is written only when the render reveals secrets', () => {
    const pw = new Secret('s3cr=t!pw');
    expect(renderString('pw={{properties pw}}', { pw }, { revealSecrets: true })).toBe('pw=s3cr=t!pw');
    expect(renderString('pw={{properties pw}}', { pw })).toBe('pw=********');
  });

  test('missing value and unsupported values are errors, not empty text', () => {
    expect(() => renderString('{{properties}}', {})).toThrow(/properties needs a value/);
    expect(() => renderString('{{properties v}}', { v: [{ a: 1 }] })).toThrow(/only text, numbers/);
    expect(() => renderString('{{properties v}}', { v: null })).toThrow(/is null/);
  });
});

describe('cfg (DolphinDB)', () => {
  test('key=value lines, in the order given', () => {
    const controller = {
      mode: 'controller',
      localSite: '10.0.0.80:8900:controller8900',
      dfsReplicationFactor: 1,
      lanCluster: 0,
      volumes: ['/hdd/hdd1/volumes', '/hdd/hdd2/volumes'],
      'P1-datanode': { persistenceDir: '/hdd/hdd1/streamCache/P1-datanode' },
      unset: undefined,
    };
    expect(cfgLines(controller)).toBe(
      [
        'mode=controller',
        'localSite=10.0.0.80:8900:controller8900',
        'dfsReplicationFactor=1',
        'lanCluster=0',
        'volumes=/hdd/hdd1/volumes,/hdd/hdd2/volumes',
        'P1-datanode.persistenceDir=/hdd/hdd1/streamCache/P1-datanode',
      ].join('\n'),
    );
  });

  test('refuses what the format cannot carry', () => {
    expect(() => cfgLines({ 'bad key': 1 })).toThrow(/keys may not be empty or contain spaces/);
    expect(() => cfgLines({ 'a=b': 1 })).toThrow(/"="/);
    expect(() => cfgLines({ x: 'one\ntwo' })).toThrow(/line break/);
  });

  test('through a template, with no blank first line', () => {
    expect(renderString('{{cfg settings}}\n', { settings: { mode: 'agent', workerNum: 4 } })).toBe('mode=agent\nworkerNum=4\n');
    expect(() => renderString('{{cfg settings}}', { settings: 'mode=agent' })).toThrow(/expected a map of settings, got string/);
  });
});

describe('kv_space (TDengine taos.cfg)', () => {
  test('values line up in one column', () => {
    expect(kvSpaceLines({ firstEp: 'h1.taosdata.com:6030', fqdn: 'h2.taosdata.com', serverPort: 6030, timezone: 'UTC-8' })).toBe(
      ['firstEp    h1.taosdata.com:6030', 'fqdn       h2.taosdata.com', 'serverPort 6030', 'timezone   UTC-8'].join('\n'),
    );
  });

  test('an empty value leaves no trailing spaces; an empty map is empty', () => {
    expect(kvSpaceLines({ debugFlag: '', fqdn: 'h1' })).toBe('debugFlag\nfqdn      h1');
    expect(kvSpaceLines({})).toBe('');
  });

  test('keys with whitespace and values with line breaks are refused', () => {
    expect(() => kvSpaceLines({ 'first Ep': 'x' })).toThrow(/whitespace/);
    expect(() => kvSpaceLines({ fqdn: 'a\nb' })).toThrow(/line break/);
  });
});

describe('csv', () => {
  test('DolphinDB cluster.nodes from object rows', () => {
    const nodes = [
      { localSite: '10.0.0.80:8901:P1-agent', mode: 'agent' },
      { localSite: '10.0.0.80:8902:P1-datanode', mode: 'datanode' },
    ];
    expect(renderString('{{csv nodes header=true}}\n', { nodes })).toBe('localSite,mode\n10.0.0.80:8901:P1-agent,agent\n10.0.0.80:8902:P1-datanode,datanode\n');
  });

  test('quotes fields with commas, quotes and line breaks; doubles quotes', () => {
    expect(csvLines([['a,b', 'say "hi"', 'two\nlines', 'plain', 3, null]])).toBe('"a,b","say ""hi""","two\nlines",plain,3,');
  });

  test('columns pick and order object fields; missing fields are empty', () => {
    expect(csvLines([{ a: 1, b: 2, c: 3 }, { b: 5 }], { columns: ['c', 'a'], header: true })).toBe('c,a\n3,1\n,');
    expect(renderString('{{csv rows columns="b, a"}}', { rows: [{ a: 1, b: 2 }] })).toBe('2,1');
  });

  test('bad input is an error', () => {
    expect(() => csvLines('a,b')).toThrow(/expected a list of rows/);
    expect(() => csvLines([1])).toThrow(/row 1 is number/);
    expect(() => csvLines([[1]], { header: true })).toThrow(/header=true needs/);
  });
});

describe('generated_header', () => {
  test('hash comments by default, naming the template', () => {
    expect(generatedHeader({ template: 'iotdb/iotdb-system.properties.hbs' })).toBe(
      '# This file is generated by runbook from the template iotdb/iotdb-system.properties.hbs.\n# Do not edit it by hand: runbook overwrites it on its next run.',
    );
  });

  test('other line comments and block comments', () => {
    expect(generatedHeader({ comment: '//' })).toMatch(/^\/\/ This file is generated by runbook\.\n\/\/ Do not edit/);
    expect(generatedHeader({ comment: '<!--', template: 'x.xml' })).toBe(
      '<!--\n  This file is generated by runbook from the template x.xml.\n  Do not edit it by hand: runbook overwrites it on its next run.\n-->',
    );
    expect(generatedHeader({ comment: '/*' }).split('\n')).toEqual(['/*', ' * This file is generated by runbook.', ' * Do not edit it by hand: runbook overwrites it on its next run.', ' */']);
  });

  test('renders the same every time (no timestamps), so files stay idempotent', () => {
    const a = renderString('{{generated_header ";"}}', { runbook_template: 'agent.cfg.hbs' });
    const b = renderString('{{generated_header ";"}}', { runbook_template: 'agent.cfg.hbs' });
    expect(a).toBe(b);
    expect(a).toContain('; This file is generated by runbook from the template agent.cfg.hbs.');
  });

  test('in a template: no argument, and template= overriding the variable', () => {
    expect(renderString('{{generated_header}}\nk=v', {})).toMatch(/^# This file is generated by runbook\.\n# Do not edit.*\nk=v$/);
    expect(renderString('{{generated_header template="a.hbs"}}', { runbook_template: 'b.hbs' })).toContain('from the template a.hbs.');
  });

  test('a bad comment marker is an error', () => {
    expect(() => generatedHeader({ comment: '' })).toThrow(/non-empty/);
    expect(() => renderString('{{generated_header 3}}', {})).toThrow(/must be a string/);
  });
});

test('the helpers that were there before still work', () => {
  expect(renderString('{{default x "d"}} {{join l "-"}} {{json m}}', { x: '', l: [1, 2], m: { a: 1 } })).toBe('d 1-2 {"a":1}');
});

test('an undefined variable given to a helper is an undefined-variable error with its line, not empty text', () => {
  for (const helper of ['properties', 'cfg', 'kv_space', 'csv']) {
    expect(() => renderString(`a\n  {{${helper} missing}}`, {}, { source: 't.hbs' })).toThrow(
      'undefined variable "missing" in t.hbs (template line 2, column 3)',
    );
  }
});
