import { clientAddressKey } from './client-address-key.js';

describe('clientAddressKey', () => {
  it.each([
    ['an IPv4 address', '203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address', '::ffff:203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address written in hex', '::FFFF:cb00:7107', '203.0.113.7'],
    ['a full IPv6 address', '2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address', '2001:db8:1:2::5', '2001:db8:1:2::/64'],
    ['an address compressed inside the prefix', '2001:db8::1:2:3:4', '2001:db8:0:0::/64'],
    ['upper-case hex', '2001:DB8:A:B::C', '2001:db8:a:b::/64'],
    ['the loopback', '::1', '0:0:0:0::/64'],
    ['a zone-scoped link-local address', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    // Deprecated (RFC 4291), never what a socket reports: kept whole, as ipaddr.js does not parse it.
    ['an IPv4-compatible (not mapped) address', '::203.0.113.7', '::203.0.113.7'],
    ['something that is no address', 'unknown', 'unknown'],
  ])('keys %s', (_case, address, key) => {
    expect(clientAddressKey(address)).toBe(key);
  });

  it('gives every address of one /64 the same key, and a neighbouring /64 another', () => {
    const key = clientAddressKey('2001:db8:aa:bb:1111:2222:3333:4444');
    expect(clientAddressKey('2001:db8:aa:bb::1')).toBe(key);
    expect(clientAddressKey('2001:db8:aa:bb:ffff:ffff:ffff:ffff')).toBe(key);
    expect(clientAddressKey('2001:db8:aa:bc::1')).not.toBe(key);
  });

  it('tells IPv4 addresses apart by their full address', () => {
    expect(clientAddressKey('::ffff:203.0.113.7')).not.toBe(clientAddressKey('203.0.113.8'));
  });
});
