"""The server segment every office has, for generate.py, drawn from its own random stream (so that adding it
leaves the rest of a seed's traffic as it was):

- A forward proxy (10.20.0.2:3128) through which the servers reach the Internet: each proxied request is the
  server's connection to the proxy (and the proxy's answer), the proxy's DNS lookup when its cache has expired,
  and the proxy's own connection upstream 30-400 ms later. Through it: hourly OS-update and AV-signature checks
  (vendor names whose addresses rotate daily), a nightly backup upload at about 01:00, and now and then (every
  2 h on average) a package mirror, a certificate check or a vendor API among 40.
- A monitoring server (10.20.0.30) that polls every host over SNMP every five minutes.
- Desktops back themselves up to the same cloud every night, directly.
- Laptops change address (Wi-Fi instead of the dock) on about a quarter of their working days.

The planted kind: proxy_beacon, one server calling a C2 name through the proxy every P (5-60 min, jitter up to
30%); the proxy resolves the name.
"""
import math

PROXY = "10.20.0.2"
PROXY_PORT = 3128
MONITOR = "10.20.0.30"


class ProxyCache:
    """The proxy's DNS cache: a name is looked up again once its TTL ran out."""

    def __init__(self):
        self.expires = {}

    def lookup(self, net, t, name, addresses, ttl):
        if self.expires.get(name, 0) <= t:
            net.resolve(t, PROXY, name, addresses, ttl=ttl)
            self.expires[name] = t + ttl


def proxied(net, rng, cache, t, server, name, addresses, size, ttl=300):
    """One request through the proxy: the server's CONNECT, the proxy's lookup and upstream connection."""
    net.flow(t, server, PROXY, rng.randint(32768, 60999), PROXY_PORT, 6, 400)
    cache.lookup(net, t + 0.005, name, addresses, ttl)
    net.flow(t + rng.uniform(0.03, 0.4), PROXY, rng.choice(addresses), rng.randint(32768, 60999), 443, 6, size)


def server_segment(net, rng, epoch, days, ext_ip, count):
    """The servers, their proxied agents and backups; returns the servers' addresses and the backup pool."""
    servers = [f"10.20.0.{10 + i}" for i in range(count)]
    cache = ProxyCache()
    updates = [[ext_ip(rng) for _ in range(3)] for _ in range(days)]
    av = [[ext_ip(rng) for _ in range(4)] for _ in range(days)]
    backup = [[ext_ip(rng) for _ in range(2)] for _ in range(days)]
    mirrors = [(f"{rng.choice(['pkg', 'mirror', 'crl', 'ocsp', 'api'])}{i}.example-{i % 7}.org", [ext_ip(rng)])
               for i in range(40)]
    end = epoch + days * 86400
    requests = []  # (time, server, name, addresses, size): replayed in time order, as the proxy's cache sees them
    for server in servers:
        for name, pool, mean in (("download.os-vendor.example-updates.com", updates, 3600),
                                 ("sigs.av-vendor.example-sec.com", av, 3600)):
            t = epoch + rng.uniform(0, mean)
            while t < end:
                day = min(days - 1, int((t - epoch) // 86400))
                requests.append((t, server, name, pool[day], rng.randint(3000, 90000)))
                t += mean + rng.uniform(-300, 300)
        t = epoch + rng.expovariate(1 / 7200)
        while t < end:  # package mirrors, certificate checks, vendor APIs: now and then, all over
            name, addresses = rng.choice(mirrors)
            requests.append((t, server, name, addresses, rng.randint(2000, 400000)))
            t += rng.expovariate(1 / 7200)
        for day in range(days):  # the nightly backup upload
            t = epoch + day * 86400 + 3600 + rng.uniform(-1200, 1200)
            requests.append((t, server, "vault.example-backup.net", backup[day], rng.randint(10**7, 10**9)))
    for t, server, name, addresses, size in sorted(requests, key=lambda r: r[0]):
        proxied(net, rng, cache, t, server, name, addresses, size)
    return servers, backup


def desktop_backups(net, rng, epoch, days, desktops, backup):
    for host in desktops:
        for day in range(days):
            t = epoch + day * 86400 + 3600 * rng.uniform(0.5, 2.5)
            net.resolve(t, host, "vault.example-backup.net", backup[day], ttl=300)
            net.flow(t + 0.05, host, rng.choice(backup[day]), rng.randint(32768, 60999), 443, 6,
                     rng.randint(10**6, 10**8))


def monitoring(net, rng, epoch, days, hosts):
    """SNMP polls (UDP 161) of every host every five minutes, all week, from one source port."""
    end = epoch + days * 86400
    for host in hosts:
        t = epoch + rng.uniform(0, 300)
        while t < end:
            net.flow(t, MONITOR, host, 46000, 161, 17, 180, 2)
            t += 300 + rng.uniform(-0.5, 0.5)


def proxy_beacon(net, rng, epoch, days, servers, ext_ip, word):
    """The planted beacon through the proxy; returns its truth."""
    server = rng.choice(servers)
    period = math.exp(rng.uniform(math.log(300), math.log(3600)))
    jitter = rng.uniform(0, 0.3)
    domain = word(rng) + rng.choice([".com", ".net", ".io"])
    addresses = [ext_ip(rng)]
    cache = ProxyCache()
    t = epoch + rng.uniform(3600, 6 * 3600)
    while t < epoch + days * 86400:
        proxied(net, rng, cache, t, server, "cdn." + domain, addresses, rng.randint(2000, 6000), ttl=120)
        t += period * (1 + rng.uniform(-jitter, jitter))
    return {"kind": "proxy_beacon", "client": server, "target": domain, "addresses": addresses,
            "relay": PROXY, "period_s": round(period, 1), "jitter": round(jitter, 2)}


def roaming_addresses(rng, epoch, days, laptops):
    """(laptop, day) -> the address the laptop has that day when it is not its usual one."""
    moved = {}
    for i, host in enumerate(sorted(laptops)):
        wifi = f"10.60.{i // 250}.{10 + i % 240}"
        for day in range(days):
            if rng.random() < 0.25:
                moved[(host, day)] = wifi
    return moved


def move_laptops(net, epoch, moved):
    """Rewrites the laptops' records and DNS events on the days they were elsewhere."""
    if not moved:
        return

    def address(host, ns):
        return moved.get((host, int((ns / 1e9 - epoch) // 86400)), host)

    for r in net.flows:
        r["src_addr"] = address(r["src_addr"], r["time_flow_start_ns"])
        r["dst_addr"] = address(r["dst_addr"], r["time_flow_start_ns"])
    for e in net.dns:
        e["client"] = address(e["client"], e["time_ns"])
