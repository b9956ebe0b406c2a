#!/usr/bin/env python3
"""Lateral-movement scenarios: a Windows domain of H hosts over D days as JSON-lines flow records (goflow2
fields, one-way records: each request has its answer), with injected movement and a truth file.

Background (must raise no alert once the graph has learned): workstations in /24 subnets logging on every
weekday (Kerberos, LDAP, SMB and RPC with a DC, SMB to their department's file server, some MSSQL), a few at
weekends, DHCP churn (a workstation takes a new address now and then), admins who RDP and WinRM to member
servers and SSH through a jump host, helpdesk RDP to workstations, an NMS polling every server hourly (WMI:
135 then the dynamic range) and every workstation daily, software deployment (SMB + RPC to every workstation),
nightly backup (SMB to every server), a weekly vulnerability scan of everything, DC-to-DC replication, and a
file server that appears mid-month. Injected after the learning period (--inject), hosts and times drawn from
the seed:
  new_edge   a workstation RDPs to a DC, or WinRMs to a member server nobody WinRMs;
  fanout     a workstation sweeps 15-40 hosts on SMB (and RPC) within minutes;
  chain      a workstation reaches a member server on RDP/WinRM, which then reaches another server on SMB/WinRM;
  watched    the NMS (a watched host) opens SMB/WinRM to servers and talks to a new internet address;
  dcsync     a workstation or member server pulls 4-40 MB of RPC answers from a DC (135, then a dynamic port);
  directory  a workstation asks a DC for 300-900 Kerberos tickets within an hour (Kerberoasting).

Usage: lateral.py --seed N --hosts H --days D --out DIR [--inject KIND,KIND|all|none]
Writes flows.jsonl, truth.json (injections, hosts, days) and config.yml (the watched NMS, the learning period).
"""
import argparse, json, os, random

EPOCH = 1709251200  # 2024-03-01T00:00:00Z, a Friday
DAY = 86400
KINDS = ["new_edge", "fanout", "chain", "watched", "dcsync", "directory"]
PORTS = {"smb": 445, "rdp": 3389, "winrm": 5985, "rpc": 135, "ssh": 22, "ldap": 389, "kerberos": 88, "mssql": 1433}


class Out:
    def __init__(self, rng):
        self.rng, self.rows = rng, []

    def conn(self, t, src, dst, service, req=800, ans=2000, proto=6, dport=None):
        """A request and its answer, as one-way meters and exporters report them."""
        dport = dport or PORTS[service]
        sport = self.rng.randrange(49152, 65535) if dport < 49152 else self.rng.randrange(49152, 65535)
        self.rows.append((t, src, dst, sport, dport, proto, req))
        self.rows.append((t + 0.01, dst, src, dport, sport, proto, ans))

    def rpc(self, t, src, dst, answer=6000):
        """WMI, DCOM, service control: the endpoint mapper, then a dynamic port."""
        self.conn(t, src, dst, "rpc", 600, 400)
        self.conn(t + 0.5, src, dst, None, 1500, answer, dport=self.rng.randrange(49664, 49700))

    def write(self, path):
        self.rows.sort(key=lambda r: r[0])
        with open(path, "w") as f:
            for t, src, dst, sport, dport, proto, nbytes in self.rows:
                ns = int(t * 1e9)
                f.write(json.dumps({"type": "METER", "time_flow_start_ns": ns, "time_flow_end_ns": ns + 300_000_000,
                                    "src_addr": src, "dst_addr": dst, "src_port": sport, "dst_port": dport,
                                    "proto": "TCP" if proto == 6 else "UDP", "bytes": nbytes,
                                    "packets": max(1, nbytes // 1200)}, separators=(",", ":")) + "\n")


class Domain:
    def __init__(self, rng, hosts):
        self.rng = rng
        self.dcs = ["10.0.0.10", "10.0.0.11"]
        self.files = ["10.0.1.10", "10.0.1.11", "10.0.1.12"]
        self.new_file = "10.0.1.13"  # appears mid-month
        self.sql = "10.0.1.20"
        self.servers = [f"10.0.2.{10 + i}" for i in range(24)]  # member servers (the Windows server segment)
        self.linux = [f"10.0.5.{10 + i}" for i in range(10)]
        self.nms, self.sccm, self.backup, self.scanner = "10.0.3.5", "10.0.3.6", "10.0.3.7", "10.0.3.8"
        self.admins = [f"10.0.4.{10 + i}" for i in range(4)]
        self.helpdesk = ["10.0.4.30", "10.0.4.31"]
        self.jump = "10.0.4.100"
        fixed = len(self.dcs) + len(self.files) + 2 + len(self.servers) + len(self.linux) + 4 + 4 + 2 + 1
        n_ws = max(20, hosts - fixed)
        subnets = max(2, n_ws // 60)
        # workstation id -> (subnet, current address); department file server per subnet
        self.ws = []
        self.next_octet = {}
        for i in range(n_ws):
            net = 1 + i % subnets
            self.ws.append(self.fresh(net))
        self.dept = {net: self.files[net % len(self.files)] for net in range(1, subnets + 1)}
        self.sql_users = set(rng.sample(range(n_ws), n_ws // 5))
        self.weekend_workers = set(rng.sample(range(n_ws), max(1, n_ws // 20)))
        self.admin_servers = {a: rng.sample(self.servers, rng.randrange(6, 14)) for a in self.admins}

    def fresh(self, net):
        o = self.next_octet.get(net, 10)
        self.next_octet[net] = o + 1
        return f"10.1.{net}.{o}"

    def net_of(self, addr):
        return int(addr.split(".")[2])

    def everyone(self):
        return (self.dcs + self.files + [self.sql] + self.servers + self.linux + self.admins + self.helpdesk +
                [self.jump, self.nms, self.sccm, self.backup] + self.ws)


def background(out, d, rng, days, mid_month_server):
    for day in range(days):
        base = EPOCH + day * DAY
        weekday = (4 + day) % 7 < 5  # day 0 is a Friday
        # DHCP churn: about 3 % of workstations take a new address each day
        for i, addr in enumerate(d.ws):
            if rng.random() < 0.03:
                d.ws[i] = d.fresh(d.net_of(addr))
        files = d.files + ([d.new_file] if day >= mid_month_server else [])
        for i, ws in enumerate(d.ws):
            if not weekday and i not in d.weekend_workers:
                continue
            t = base + 7.5 * 3600 + rng.random() * 2.5 * 3600
            dc = rng.choice(d.dcs)
            for k in range(rng.randrange(3, 8)):
                out.conn(t + k * rng.random() * 600, ws, dc, "kerberos", 1400, 1600)
            for k in range(rng.randrange(2, 6)):
                out.conn(t + 1 + k * rng.random() * 900, ws, dc, "ldap", 300, 2500)
            out.conn(t + 3, ws, dc, "smb", 2000, 30000)  # group policy
            out.rpc(t + 4, ws, dc)
            share = d.dept[d.net_of(ws)]
            if day >= mid_month_server and rng.random() < 0.3:
                share = d.new_file
            out.conn(t + 60 + rng.random() * 3600, ws, share, "smb", 20000, 400000)
            if rng.random() < 0.3:
                out.conn(t + 3600 + rng.random() * 7200, ws, rng.choice(files), "smb", 5000, 80000)
            if i in d.sql_users:
                out.conn(t + 120 + rng.random() * 20000, ws, d.sql, "mssql", 3000, 50000)
            for k in range(rng.randrange(0, 4)):  # ticket renewals during the day
                out.conn(t + 7200 + rng.random() * 6 * 3600, ws, rng.choice(d.dcs), "kerberos", 1400, 1600)
        # servers: Kerberos/LDAP with the DCs around the clock; DC replication
        for srv in d.servers + d.files + [d.sql]:
            for h in range(0, 24, 4):
                out.conn(base + h * 3600 + rng.random() * 3600, srv, rng.choice(d.dcs), "kerberos", 1400, 1600)
                out.conn(base + h * 3600 + rng.random() * 3600, srv, rng.choice(d.dcs), "ldap", 400, 3000)
        for h in range(0, 24, 1):
            out.rpc(base + h * 3600 + rng.random() * 60, d.dcs[0], d.dcs[1], answer=300000)
            out.rpc(base + h * 3600 + rng.random() * 60, d.dcs[1], d.dcs[0], answer=300000)
        # NMS: WMI to every server hourly, to every workstation daily; SSH to the Linux servers
        for h in range(24):
            for srv in d.servers + d.files + d.dcs + [d.sql]:
                out.rpc(base + h * 3600 + rng.random() * 300, d.nms, srv, answer=9000)
            for lx in d.linux:
                out.conn(base + h * 3600 + rng.random() * 300, d.nms, lx, "ssh", 3000, 5000)
        for ws in d.ws:
            out.rpc(base + 12 * 3600 + rng.random() * 3600, d.nms, ws, answer=9000)
        # Deployment: SMB + RPC to every workstation at night; backup: SMB to every server
        if weekday:
            for ws in d.ws:
                t = base + 22 * 3600 + rng.random() * 3600
                out.conn(t, d.sccm, ws, "smb", 300000, 4000)
                out.rpc(t + 2, d.sccm, ws)
        for srv in d.servers + d.files + [d.sql] + d.dcs:
            out.conn(base + 1 * 3600 + rng.random() * 7200, d.backup, srv, "smb", 5000, 50_000_000)
        # Weekly vulnerability scan (Sunday): every host, every admin port
        if (4 + day) % 7 == 6:
            for host in d.everyone():
                t = base + 2 * 3600 + rng.random() * 4 * 3600
                for svc in ["smb", "rdp", "winrm", "rpc", "ssh", "ldap", "mssql"]:
                    out.conn(t + rng.random() * 30, d.scanner, host, svc, 60, 60)
        # Admins: RDP/WinRM to their servers, SSH via the jump host; helpdesk RDP to workstations
        if weekday:
            for a in d.admins:
                for srv in rng.sample(d.admin_servers[a], rng.randrange(1, 5)):
                    t = base + 9 * 3600 + rng.random() * 8 * 3600
                    out.conn(t, a, srv, rng.choice(["rdp", "rdp", "winrm"]), 400000, 2000000)
                if rng.random() < 0.15:
                    out.conn(base + 10 * 3600 + rng.random() * 6 * 3600, a, rng.choice(d.dcs), "rdp", 400000,
                             2000000)
                if rng.random() < 0.05:  # now and then a server the admin has not touched for a while
                    out.conn(base + 10 * 3600 + rng.random() * 6 * 3600, a, rng.choice(d.servers), "rdp", 400000,
                             2000000)
                t = base + 9 * 3600 + rng.random() * 8 * 3600
                out.conn(t, a, d.jump, "ssh", 50000, 200000)
                for lx in rng.sample(d.linux, rng.randrange(1, 4)):
                    out.conn(t + 30 + rng.random() * 1800, d.jump, lx, "ssh", 50000, 200000)
            for h in d.helpdesk:
                for _ in range(rng.randrange(1, 5)):
                    out.conn(base + 9 * 3600 + rng.random() * 8 * 3600, h, rng.choice(d.ws), "rdp", 300000, 1500000)


def inject(out, d, rng, kind, start_day, days):
    day = rng.randrange(start_day, days)
    t = EPOCH + day * DAY + rng.choice([2, 10, 14, 20, 23]) * 3600 + rng.random() * 3000
    ws = rng.choice(d.ws)
    if kind == "new_edge":
        if rng.random() < 0.5:
            dst, svc = rng.choice(d.dcs), "rdp"
        else:
            dst, svc = rng.choice(d.servers), "winrm"
        out.conn(t, ws, dst, svc, 300000, 1000000)
        return {"kind": kind, "origin": ws, "hosts": [ws, dst], "start": t, "end": t + 60}
    if kind == "fanout":
        targets = rng.sample(d.ws + d.servers, rng.randrange(15, 41))
        for i, dst in enumerate(targets):
            out.conn(t + i * rng.uniform(2, 20), ws, dst, "smb", 400, 300)
            if rng.random() < 0.5:
                out.conn(t + i * rng.uniform(2, 20) + 1, ws, dst, "rpc", 300, 200)
        return {"kind": kind, "origin": ws, "hosts": [ws] + targets, "start": t, "end": t + len(targets) * 20}
    if kind == "chain":
        hop1, hop2 = rng.sample(d.servers, 2)
        out.conn(t, ws, hop1, rng.choice(["rdp", "winrm"]), 300000, 1000000)
        t2 = t + rng.uniform(300, 3000)
        out.conn(t2, hop1, hop2, rng.choice(["smb", "winrm"]), 2_000_000, 50000)
        return {"kind": kind, "origin": ws, "hosts": [ws, hop1, hop2], "start": t, "end": t2}
    if kind == "watched":
        targets = rng.sample(d.servers, rng.randrange(1, 4))
        for i, dst in enumerate(targets):
            out.conn(t + i * 200, d.nms, dst, rng.choice(["smb", "winrm"]), 500000, 20000)
        out.conn(t + 900, d.nms, f"203.0.113.{rng.randrange(1, 250)}", None, 3000, 40000, dport=443)
        return {"kind": kind, "origin": d.nms, "hosts": [d.nms] + targets, "start": t, "end": t + 900}
    if kind == "dcsync":
        src = rng.choice([ws, rng.choice(d.servers)])
        dc = rng.choice(d.dcs)
        out.conn(t, src, dc, "rpc", 600, 400)
        port = rng.randrange(49664, 49700)
        total = rng.randrange(4, 40) * 1_000_000
        sport = rng.randrange(49152, 65535)
        for k in range(8):
            out.rows.append((t + 1 + k * 5, src, dc, sport, port, 6, 20000))
            out.rows.append((t + 1.01 + k * 5, dc, src, port, sport, 6, total // 8))
        return {"kind": kind, "origin": src, "hosts": [src, dc], "start": t, "end": t + 45}
    if kind == "directory":
        dc = rng.choice(d.dcs)
        n = rng.randrange(300, 900)
        for k in range(n):
            out.conn(t + k * 3600 * 0.8 / n, ws, dc, "kerberos", 1500, 1800)
        return {"kind": kind, "origin": ws, "hosts": [ws, dc], "start": t, "end": t + 3600}
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--hosts", type=int, default=400)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--out", required=True)
    ap.add_argument("--inject", default="all", help="comma-separated kinds, all or none")
    ap.add_argument("--learning-days", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    out = Out(rng)
    d = Domain(rng, a.hosts)
    mid = rng.randrange(a.days // 3, 2 * a.days // 3)
    truth = []
    kinds = [] if a.inject == "none" else (KINDS if a.inject == "all" else a.inject.split(","))
    # Injections are drawn before the background so that each seed's attack does not depend on its size.
    inj_rng = random.Random(a.seed * 7919 + 1)
    for kind in kinds:
        truth.append(inject(out, d, inj_rng, kind, a.learning_days + 1, a.days))
    background(out, d, rng, a.days, mid)
    out.write(os.path.join(a.out, "flows.jsonl"))
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump({"seed": a.seed, "hosts": len(d.everyone()), "days": a.days, "learning_days": a.learning_days,
                   "injected": truth}, f, indent=1)
    with open(os.path.join(a.out, "config.yml"), "w") as f:
        f.write("analyzer:\n  lateral:\n    learning_period: %dd\n    watched_hosts: [%s]\n"
                % (a.learning_days, d.nms))


if __name__ == "__main__":
    main()
