// The lab's checks that need no root and touch nothing: names, subnets, and
// the errors for requests it cannot satisfy.

import { describe, expect, it } from 'vitest';
import { buildLabPackage, LabError, labUp } from '../../engine/lab/index.js';
import { bridgeName, netnsName, vethName } from '../../engine/lab/layout.js';
import { controllerAddress, hostAddress, maxHosts, parseSubnet } from '../../engine/lab/subnet.js';

describe('lab names', () => {
  it('keep interface names within the 15 characters Linux allows, hashing long lab names', () => {
    expect(bridgeName('default')).toBe('rb-default-br');
    expect(vethName('default', 244)).toBe('rb-default-244');
    const long = 'a-very-long-lab-name-for-iotdb-1';
    expect(bridgeName(long)).toMatch(/^rb-h[0-9a-f]{6}-br$/);
    expect(vethName(long, 244).length).toBeLessThanOrEqual(15);
    expect(bridgeName(long)).not.toBe(bridgeName(`${long.slice(0, -1)}2`));
    expect(netnsName(long, 3)).toBe(`runbook-${long}-3`);
  });

  it('are checked before anything else happens', async () => {
    await expect(labUp({ hosts: 1, name: '../etc' })).rejects.toMatchObject({ code: 'bad-input', exitCode: 2 });
    await expect(labUp({ hosts: 0, name: 'ok' })).rejects.toMatchObject({ code: 'bad-input', message: expect.stringContaining('at least 1') });
  });
});

describe('lab subnets', () => {
  it('place the controller at .1 and hosts from .11', () => {
    const s = parseSubnet('198.19.4.0/24');
    expect([controllerAddress(s), hostAddress(s, 1), hostAddress(s, 2)]).toEqual(['198.19.4.1', '198.19.4.11', '198.19.4.12']);
    expect(maxHosts(s)).toBe(244);
    expect(hostAddress(s, maxHosts(s))).toBe('198.19.4.254');
  });

  it.each([
    ['10.0.0.0/24', 'outside 198.18.0.0/15'],
    ['198.19.4.7/24', 'the network address is 198.19.4.0/24'],
    ['198.19.4.0/30', 'outside the supported range'],
    ['198.19.400.0/24', 'larger than 255'],
    ['198.19.4.0', 'a.b.c.d/prefix'],
  ])('reject %s', (subnet, why) => {
    expect(() => parseSubnet(subnet)).toThrow(LabError);
    expect(() => parseSubnet(subnet)).toThrow(why);
  });

  it('are checked before anything else happens', async () => {
    await expect(labUp({ hosts: 1, name: 'ok', subnet: '192.168.1.0/24' })).rejects.toMatchObject({ code: 'bad-input' });
    await expect(labUp({ hosts: 21, name: 'ok', subnet: '198.19.9.0/27' })).rejects.toMatchObject({
      code: 'bad-input',
      message: expect.stringContaining('room for 20 lab hosts'),
    });
  });
});

describe('lab packages', () => {
  it('name the known products when asked for an unknown one', async () => {
    const err: unknown = await buildLabPackage('demi').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unknown-product', message: expect.stringContaining('did you mean demo?') });
    expect((err as LabError).format()).toContain('known products: demo');
  });
});
