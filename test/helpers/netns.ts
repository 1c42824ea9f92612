/**
 * A small "cluster" of hosts on one machine with Linux network namespaces (../shared/docs/INFRA.md B5): a hub
 * namespace holding a bridge, and one namespace per host joined to it by a veth pair, with only its own address
 * (10.213.7.x/24) and loopback. The root namespace is left untouched (it cannot reach the hosts). Names carry
 * this process's pid, so parallel runs do not collide; {@link HostNet.destroy} deletes every namespace.
 *
 * {@link createHostNet} returns the reason instead when namespaces cannot be made here (not Linux, no `ip`,
 * not root / no CAP_NET_ADMIN, a sandbox that forbids them, or GWASGRID_NO_NETNS set to try the fallback).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Host {
  name: string;
  /** The network namespace. */
  ns: string;
  address: string;
  /** Prefix that runs a command inside the host: `ip netns exec NS`. */
  exec: string[];
}

export class HostNet {
  private constructor(
    readonly hub: string,
    readonly hosts: Map<string, Host>,
  ) {}

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** `ip -n NS …` for a host (e.g. `link set eth0 down` to cut it off). */
  ip(name: string, ...args: string[]): string {
    return ip('-n', this.host(name).ns, ...args);
  }

  /** Deletes the namespaces (processes inside must have been stopped first). */
  destroy(): void {
    for (const h of this.hosts.values()) tryIp('netns', 'del', h.ns);
    tryIp('netns', 'del', this.hub);
  }

  static create(names: string[], subnet = '10.213.7'): HostNet | string {
    if (process.env.GWASGRID_NO_NETNS) return 'GWASGRID_NO_NETNS is set';
    if (process.platform !== 'linux') return `not Linux (${process.platform})`;
    if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'the ip command is missing (apt-get install -y iproute2)';
    if (process.getuid?.() !== 0) return 'not root: creating network namespaces needs CAP_NET_ADMIN';
    const tag = `gwg${process.pid}`;
    const hub = `${tag}-hub`;
    const hosts = new Map<string, Host>();
    const net = new HostNet(hub, hosts);
    try {
      ip('netns', 'add', hub);
    } catch (e) {
      return `cannot create a network namespace (ip netns add ${hub}): ${(e as Error).message.trim()}`;
    }
    try {
      ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', hub, 'link', 'set', 'br0', 'up');
      names.forEach((name, i) => {
        const ns = `${tag}-${name}`;
        const address = `${subnet}.${i + 1}`;
        ip('netns', 'add', ns);
        hosts.set(name, { name, ns, address, exec: ['ip', 'netns', 'exec', ns] });
        const veth = `v${i}`;
        ip('-n', hub, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('-n', hub, 'link', 'set', veth, 'master', 'br0', 'up');
        ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      });
    } catch (e) {
      net.destroy();
      return `cannot wire the namespaces (veth/bridge): ${(e as Error).message.trim()}`;
    }
    return net;
  }
}

function ip(...args: string[]): string {
  try {
    return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`ip ${args.join(' ')}: ${err.stderr?.toString() || err.message}`);
  }
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}
