// A client's address as uWS gives it, in one place: uWS writes IPv6 in full
// (eight groups of four hex digits), and IPv4 clients of a dual-stack socket
// as IPv4-mapped IPv6. Limits, bars and logs all key on and show the same text.
import type { HttpResponse } from './types.js';

const addressText = new TextDecoder();

/** The remote address of a request, as uWS writes it. */
export function clientAddress(res: HttpResponse): string {
  return addressText.decode(res.getRemoteAddressAsText());
}

/** An address as people write it: IPv4-mapped IPv6 shown as IPv4. */
export function readableAddress(address: string): string {
  const mapped = /^0000:0000:0000:0000:0000:ffff:([0-9a-f]{2})([0-9a-f]{2}):([0-9a-f]{2})([0-9a-f]{2})$/.exec(address);
  if (mapped === null) return address;
  return mapped
    .slice(1)
    .map((byte) => parseInt(byte, 16))
    .join('.');
}

/** IPv6 clients are judged by their /64, the block one host usually holds; IPv4 (mapped or not) by the address. */
export function addressGroup(address: string): string {
  if (!address.includes(':') || address.startsWith('0000:0000:0000:0000:0000:ffff:')) return address;
  return `${address.slice(0, 19)}::/64`;
}

/** ::1 as uWS writes it. */
export function isLoopbackV6(address: string): boolean {
  return /^(0000:){7}0001$/.test(address);
}
