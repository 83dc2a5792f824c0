import ipaddr from 'ipaddr.js';

/**
 * The key login limits count a client address under. An IPv6 client usually holds a whole /64
 * (privacy addresses rotate within it), so it is counted by that prefix; IPv4, and IPv4 mapped
 * into IPv6 (`::ffff:1.2.3.4`, how a dual-stack socket reports an IPv4 peer), by the full address.
 * Anything else is used as given.
 */
export function clientAddressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  // `process` turns an IPv4-mapped IPv6 address into the IPv4 one.
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${(parsed as ipaddr.IPv6).parts
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}
