#!/usr/bin/env python3
"""Scenario generator for flowguard's detectors: a network of H hosts over D days as JSON-lines flow records
(goflow2 fields, with TCP flags) and DNS events (flowguard meter --dns-log fields), with injected C2 and a truth
file. Day 0 is a Friday: weekends come on days 1-2, 8-9, ...

Background (must raise no alert): users browse on weekdays in office hours (bursts through the internal
resolver, which forwards a share upstream; CDN names with random labels that many clients resolve); about
60% of hosts are laptops that sleep outside their user's hours, the rest stay on; while on, hosts run NTP,
IMAP polling, an Office-365-style heartbeat that many share, update checks, and office.py's traffic: chat
websockets and collaboration heartbeats kept open with keep-alives behind daily-rotating load balancers, VPN
keep-alives, AV agents. Injected (must be found), every timing drawn from the seed:
  - https_beacon: one host calls one external address every P (30 s .. 2 h) with J (0..50%) jitter;
  - sunburst_dns: one host asks a fresh SUNBURST-encoded avsvmcloud.com name every 30-120 min, among them its
    victim domain's real fragments (sunburst_victims.json) in order and again, the capture starting at the last;
  - sunburst_stage2: later a CNAME answer hands it a published stage-2 C2 domain, which it calls over HTTPS
    every 2-5 minutes;
  - dga_dns: one host asks a fresh base32 subdomain (12-40 characters) of an unlisted domain every 30-120 min
    (a generic first stage);
  - stage2_name: one host calls a C2 name resolved by DNS every 60-120 s (SUNBURST's second stage sleeps);
  - sleeping_beacon: a laptop calls one address every P (1-3 h) with J (20-50%) jitter while it is awake;
  - proxy_beacon (servers.py): a server calls a C2 name through the forward proxy.
servers.py adds the server segment (proxy, agents, backups, monitoring) and laptops that change address, from
a random stream of their own. A truth item's `aliases` are its client's other addresses; `relay` the proxy.

Usage: generate.py --seed N --hosts H --days D --out DIR   (writes flows.jsonl, dns.jsonl, truth.json)
"""
import argparse, json, math, os, random, string

import office
import servers as server_segment

B32 = "ph2eifo3n5utg1j8d94qrvbmk0sal76c"
SUB = "rq3gsalt6u1iyfzop572d49bnx8cvmkewhj"
REGIONS = ["eu-west-1", "us-west-2", "us-east-1", "us-east-2"]
RESOLVER = "10.0.0.53"
EPOCH = 1709251200  # 2024-03-01T00:00:00Z
SUNBURST_VICTIMS = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sunburst_victims.json")))[
    "victims"]


def b32(data, rng):
    out, bits, count = "", 0, 0
    for b in data:
        bits |= b << count
        count += 8
        while count >= 5:
            out += B32[bits & 31]; bits >>= 5; count -= 5
    if count:
        bits |= rng.randrange(256) << count
        out += B32[bits & 31]
    return out


def sunburst_ping(rng, guid, when):
    """A SUNBURST type-1 (ping) name, encoded as the backdoor does."""
    half = int((when - 1262304000) // 1800)
    value = (half << 1) & 0xFFFFF
    t = [(1 << 4) | (value >> 16), (value >> 8) & 255, value & 255]
    g = [(guid >> (56 - 8 * i)) & 255 for i in range(8)]
    data = [g[i] ^ t[2 if i % 2 == 0 else 1] for i in range(8)] + t
    key = rng.randrange(1, 127)
    label = b32([key] + [d ^ key for d in data], rng)
    return f"{label}.appsync-api.{REGIONS[g[0] % 4]}.avsvmcloud.com"


class Net:
    def __init__(self, rng):
        self.rng, self.flows, self.dns = rng, [], []

    def flow(self, t, src, dst, sport, dport, proto, nbytes, packets=None, tcp_flags=None):
        """A connection's two one-way records, as meters and exporters report them. tcp_flags: the flags seen
        (cumulative); a whole short connection (SYN, PSH, ACK, FIN) unless given."""
        packets = packets or max(1, nbytes // 600)
        flags = (0x1b if tcp_flags is None else tcp_flags) if proto == 6 else 0
        ns = int(t * 1e9)
        self.flows.append({"type": "METER", "time_flow_start_ns": ns, "time_flow_end_ns": ns + 200_000_000,
                           "src_addr": src, "dst_addr": dst, "src_port": sport, "dst_port": dport,
                           "proto": "TCP" if proto == 6 else "UDP", "bytes": nbytes, "packets": packets,
                           "tcp_flags": flags})
        self.flows.append({"type": "METER", "time_flow_start_ns": ns + 20_000_000, "time_flow_end_ns": ns + 210_000_000,
                           "src_addr": dst, "dst_addr": src, "src_port": dport, "dst_port": sport,
                           "proto": "TCP" if proto == 6 else "UDP", "bytes": nbytes * 3, "packets": packets,
                           "tcp_flags": flags})

    def resolve(self, t, client, name, addresses, ttl=300, via_resolver=True):
        ns = int(t * 1e9)
        server = RESOLVER if via_resolver else "8.8.8.8"
        self.dns.append({"time_ns": ns, "type": "query", "client": client, "server": server, "qname": name, "qtype": 1})
        self.dns.append({"time_ns": ns + 15_000_000, "type": "response", "client": client, "server": server,
                         "qname": name, "qtype": 1, "rcode": 0, "cnames": [], "answers": addresses, "ttl": ttl})
        if via_resolver and self.rng.random() < 0.3:  # cache miss: the resolver forwards upstream
            self.dns.append({"time_ns": ns + 2_000_000, "type": "query", "client": RESOLVER, "server": "9.9.9.9",
                             "qname": name, "qtype": 1})
            self.dns.append({"time_ns": ns + 12_000_000, "type": "response", "client": RESOLVER, "server": "9.9.9.9",
                             "qname": name, "qtype": 1, "rcode": 0, "cnames": [], "answers": addresses, "ttl": ttl})


def word(rng):
    syll = ["ka", "lo", "mer", "tis", "an", "bo", "ro", "vel", "net", "shop", "news", "mail", "cloud", "web", "data",
            "star", "sun", "blue", "green", "city", "home", "book", "go", "my", "top"]
    return "".join(rng.choice(syll) for _ in range(rng.randint(2, 3)))


def ext_ip(rng):
    first, second = rng.choice([23, 34, 52, 104, 151, 172, 185, 198, 203]), rng.randrange(256)
    if first == 172 and 16 <= second <= 31:  # 172.16.0.0/12 is private: an internal host, not the Internet
        second += 16
    return f"{first}.{second}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def background(net, rng, hosts, days, users, machines):
    """users[h]: when h's user works (browsing); machines[h]: when h is on (agents, heartbeats)."""
    sites = [(f"{word(rng)}.{rng.choice(['com', 'net', 'org', 'io', 'co.uk', 'de'])}", ext_ip(rng)) for _ in range(400)]
    cdn_edges = [ext_ip(rng) for _ in range(30)]
    o365 = ext_ip(rng)
    mail = ext_ip(rng)
    for h in hosts:
        port = 40000
        # browsing: Poisson sessions while the user works, a few sites each, names resolved first
        for first, last in users[h]:
            t = first + rng.uniform(0, 1800)
            while t < last:
                for _ in range(rng.randint(1, 6)):
                    name, addr = rng.choice(sites[: rng.randint(20, 400)])
                    host = rng.choice(["www.", "", "static.", "api."]) + name
                    net.resolve(t, h, host, [addr])
                    for _ in range(rng.randint(1, 8)):
                        port += 1
                        net.flow(t + rng.uniform(0, 30), h, addr, 1024 + port % 60000, 443, 6, rng.randint(800, 200000))
                    # CDN assets with random labels, resolved by everyone at random times
                    label = "".join(rng.choice("0123456789abcdef") for _ in range(16))
                    edge = rng.choice(cdn_edges)
                    net.resolve(t + 1, h, f"{label}.cdn.cloudfront.net", [edge])
                    net.resolve(t + 1.5, h, f"e{rng.randint(1000, 9999)}.dscx.akamaiedge.net", [edge])
                    net.flow(t + 2, h, edge, 1024 + (port + 7) % 60000, 443, 6, rng.randint(5000, 900000))
                    t += rng.expovariate(1 / 90)
                t += rng.expovariate(1 / 1500)
        # NTP every 64..1024 s (allow-listed port), IMAP polling every 5 min (allow-listed port)
        heartbeat = rng.random() < 0.6
        for start, end in machines[h]:
            t = start + rng.uniform(0, 600)
            while t < end:
                net.flow(t, h, "162.159.200.123", 123, 123, 17, 76, 1)
                t += rng.choice([64, 128, 256, 512, 1024])
            t = start + rng.uniform(0, 300)
            while t < end:
                net.flow(t, h, mail, 40000 + int(t) % 20000, 993, 6, rng.randint(900, 1400))
                t += 300 + rng.uniform(-3, 3)
            # an Office-365-style heartbeat over HTTPS that most hosts share (periodic, but a service)
            t = start + rng.uniform(0, 60)
            while heartbeat and t < end:
                if rng.random() < 0.02:
                    net.resolve(t, h, "outlook.office365.com", [o365], ttl=60)
                net.flow(t, h, o365, 30000 + int(t) % 30000, 443, 6, rng.randint(1500, 1700))
                t += 120 + rng.uniform(-10, 10)
            # update checks every hour or so (allow-listed domain)
            t = start + rng.uniform(0, 3600)
            while t < end:
                net.resolve(t, h, "fe2.update.microsoft.com", ["13.107.4.50"])
                t += 3600 + rng.uniform(-300, 300)


def inject(net, rng, hosts, days, machines):
    truth = []
    start, end = EPOCH + rng.uniform(0, 3600), EPOCH + days * 86400
    victims = rng.sample(hosts, 4)
    # https beacon
    period = math.exp(rng.uniform(math.log(30), math.log(7200)))
    jitter = rng.uniform(0, 0.5)
    c2 = ext_ip(rng)
    t = start
    base = rng.randint(800, 5000)
    while t < end:
        net.flow(t, victims[0], c2, 49152 + int(t) % 16000, 443, 6, int(base * rng.uniform(0.8, 1.2)))
        t += period * (1 + rng.uniform(-jitter, jitter))
    truth.append({"kind": "https_beacon", "client": victims[0], "target": c2, "period_s": round(period, 1),
                  "jitter": round(jitter, 2)})
    # SUNBURST first stage (real encoding), through the internal resolver: pings, and the victim's domain in real
    # fragments seen in passive DNS, the last fragment first (as after capture loss or a restart); then stage 2:
    # a CNAME to a published C2 domain and HTTPS check-ins to its address.
    victim = rng.choice(SUNBURST_VICTIMS)
    guid = int(victim["guid"], 16)
    # The backdoor sends the fragments in order and again; the capture starts at the last one.
    fragments = victim["fragments"][-1:] + victim["fragments"][:-1]
    t = start + rng.uniform(0, 1800)
    stage2_at = t + rng.uniform(0.5, 0.8) * (end - t)
    sent = 0
    while t < stage2_at or sent <= len(fragments):  # at least once in order up to the last
        fragment = rng.random() < 0.5
        name = fragments[sent % len(fragments)] if fragment else sunburst_ping(rng, guid, t)
        sent += fragment
        net.resolve(t, victims[1], name, ["20.140.0.1"], ttl=60)
        t += rng.uniform(30 * 60, 120 * 60)
    stage2_domain = rng.choice(["freescanonline.com", "deftsecurity.com", "thedoccloud.com", "websitetheme.com",
                                "highdatabase.com", "incomeupdate.com", "databasegalore.com", "panhardware.com"])
    stage2_address = ext_ip(rng)
    ns = int(t * 1e9)
    ping = sunburst_ping(rng, guid, t)
    net.dns.append({"time_ns": ns, "type": "query", "client": victims[1], "server": RESOLVER, "qname": ping, "qtype": 1})
    net.dns.append({"time_ns": ns + 15_000_000, "type": "response", "client": victims[1], "server": RESOLVER,
                    "qname": ping, "qtype": 1, "rcode": 0, "cnames": ["api." + stage2_domain],
                    "answers": [stage2_address], "ttl": 60})
    t += 5
    while t < end:
        net.flow(t, victims[1], stage2_address, rng.randint(49152, 65535), 443, 6, rng.randint(2000, 5000))
        t += rng.uniform(120, 300)
    truth.append({"kind": "sunburst_dns", "client": victims[1], "target": "avsvmcloud.com",
                  "victim_domain": victim["victim_domain"]})
    truth.append({"kind": "sunburst_stage2", "client": victims[1], "target": stage2_domain,
                  "addresses": [stage2_address]})
    # a generic SUNBURST-like first stage under a domain no list knows
    dga_domain = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(6, 10))) + rng.choice(["cloud.com", "svc.net", "api.org"])
    t = start + rng.uniform(0, 1800)
    while t < end:
        label = "".join(rng.choice(B32) for _ in range(rng.randint(12, 40)))
        net.resolve(t, victims[2], f"{label}.{dga_domain}", [ext_ip(rng)], ttl=60)
        t += rng.uniform(30 * 60, 120 * 60)
    truth.append({"kind": "dga_dns", "client": victims[2], "target": dga_domain})
    # second stage: a C2 name, 60-120 s sleeps, fresh connections, addresses that change
    c2_name = word(rng) + rng.choice([".com", ".net"])
    addresses = [ext_ip(rng) for _ in range(3)]
    t = start + rng.uniform(0, 3600)
    stop = min(end, t + rng.uniform(3, 8) * 3600)
    while t < stop:
        address = rng.choice(addresses)
        net.resolve(t, victims[3], "api." + c2_name, [address], ttl=30)
        net.flow(t + 0.05, victims[3], address, 49152 + int(t) % 16000, 443, 6, rng.randint(2000, 4000))
        t += rng.uniform(60, 120)
    truth.append({"kind": "stage2_name", "client": victims[3], "target": c2_name, "addresses": addresses})
    # a slow implant on a laptop: a period of hours, strong jitter, asleep whenever the laptop is
    sleeper = rng.choice([h for h in hosts if h not in victims and machines[h][0] != (EPOCH, end)] or hosts)
    period = math.exp(rng.uniform(math.log(3600), math.log(3 * 3600)))
    jitter = rng.uniform(0.2, 0.5)
    c2 = ext_ip(rng)
    for first, last in machines[sleeper]:
        t = first + rng.uniform(60, period)
        while t < last:
            net.flow(t, sleeper, c2, rng.randint(49152, 65535), 443, 6, rng.randint(3000, 6000))
            t += period * (1 + rng.uniform(-jitter, jitter))
    truth.append({"kind": "sleeping_beacon", "client": sleeper, "target": c2, "period_s": round(period, 1),
                  "jitter": round(jitter, 2)})
    return truth


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hosts = [f"10.{1 + i // 250}.{i % 250}.{10 + rng.randrange(200)}" for i in range(args.hosts)]
    hosts = list(dict.fromkeys(hosts))
    net = Net(rng)
    laptops = set(h for h in hosts if rng.random() < 0.6)
    users = {h: office.awake_windows(rng, EPOCH, args.days, True) for h in hosts}
    machines = {h: users[h] if h in laptops else [(EPOCH, EPOCH + args.days * 86400)] for h in hosts}
    background(net, rng, hosts, args.days, users, machines)
    office.office_background(net, rng, hosts, machines, args.days, EPOCH, ext_ip)
    truth = inject(net, rng, hosts, args.days, machines)
    side = random.Random(args.seed * 1_000_003 + 17)  # the server segment's own stream
    servers, backup = server_segment.server_segment(net, side, EPOCH, args.days, ext_ip,
                                                   side.randint(4, max(6, len(hosts) // 10)))
    server_segment.desktop_backups(net, side, EPOCH, args.days, [h for h in hosts if h not in laptops], backup)
    server_segment.monitoring(net, side, EPOCH, args.days, hosts + servers)
    truth.append(server_segment.proxy_beacon(net, side, EPOCH, args.days, servers, ext_ip, word))
    moved = server_segment.roaming_addresses(side, EPOCH, args.days, laptops)
    server_segment.move_laptops(net, EPOCH, moved)
    for item in truth:
        item["aliases"] = sorted({address for (host, _), address in moved.items() if host == item["client"]})
    hosts = hosts + servers + [server_segment.PROXY, server_segment.MONITOR]
    os.makedirs(args.out, exist_ok=True)
    net.flows.sort(key=lambda r: r["time_flow_start_ns"])
    net.dns.sort(key=lambda r: r["time_ns"])
    # One file, DNS and flows interleaved in time order, as the pipeline delivers them.
    merged = sorted([(r["time_ns"], 0, r) for r in net.dns] + [(r["time_flow_start_ns"], 1, r) for r in net.flows],
                    key=lambda x: (x[0], x[1]))
    with open(os.path.join(args.out, "events.jsonl"), "w") as out:
        for _, _, r in merged:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
    with open(os.path.join(args.out, "truth.json"), "w") as out:
        json.dump({"seed": args.seed, "hosts": len(hosts), "days": args.days, "injected": truth}, out, indent=1)
    print(json.dumps({"flows": len(net.flows), "dns": len(net.dns), "hosts": len(hosts), "injected": len(truth)}))


if __name__ == "__main__":
    main()
