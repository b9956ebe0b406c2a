#!/usr/bin/python3
"""Writes this case's inputs (kept in the repository; rerun only to change them on purpose):

dns.jsonl   passive DNS as `meter --dns-log` writes it: an internal resolver (10.0.0.53) answering a client
            (so it is learned, and its own forwarded queries are not scored); 300 real SUNBURST names asked by
            10.9.9.9 every 30 min; one answer with a CNAME to a Mandiant stage-2 name; 40 generated names under
            lookalikecloud.com from 10.9.9.10 every ~45 min (DGA and DNS beacon); five clients polling one
            shared service name (popular: suppressed); an answer naming cdn.example-c2.net for 10.9.9.11.
flows.jsonl flow records as `meter`/`decode` write them (goflow2 JSON): 10.9.9.11 calling the address
            cdn.example-c2.net resolved to, every 60 s (address and name series), a GRE and an ICMPv6 flow,
            and a flow to a published SUNBURST C2 address.
sflow.jsonl sFlow packet samples (type SFLOW_5) of a 60 s beacon, six samples per connection within 300 ms:
            counted per burst, they are a beacon; counted per sample, they are not.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = os.path.join(HERE, "..", "..", "fixtures", "sunburst", "bambenek-uniq-hostnames.txt")
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def dns(t, kind, client, server, qname, answers=(), cnames=(), ttl=300, qtype=1):
    e = {"time_ns": t, "type": kind, "client": client, "client_port": 53000, "server": server, "id": 1,
         "qname": qname, "qtype": qtype}
    if kind == "response":
        e.update({"rcode": 0, "cnames": list(cnames), "answers": list(answers), "ttl": ttl, "answers_truncated": False})
    return e


def flow(t, src, dst, proto, sport, dport, nbytes, kind="IPFIX", packets=3):
    return {"type": kind, "time_received_ns": t + 5 * S, "sequence_num": 0, "sampling_rate": 0,
            "sampler_address": "192.0.2.1", "time_flow_start_ns": t, "time_flow_end_ns": t + 2 * S,
            "bytes": nbytes, "packets": packets, "src_addr": src, "dst_addr": dst, "etype": "IPv4", "proto": proto,
            "src_port": sport, "dst_port": dport}


def main():
    rng = random.Random(20261129)
    events = [dns(T0, "response", "10.9.9.20", "10.0.0.53", "www.example.com", ["93.184.216.34"])]
    names = [n for n in open(NAMES).read().split() if n][:300]
    for i, name in enumerate(names):
        t = T0 + i * 1800 * S + rng.randrange(0, 20 * S)
        events.append(dns(t, "query", "10.9.9.9", "10.0.0.53", name))
        events.append(dns(t + 1000, "query", "10.0.0.53", "9.9.9.9", name))  # forwarded: the resolver's own
    events.append(dns(T0 + 7 * 1800 * S + 3 * S, "response", "10.9.9.9", "10.0.0.53", names[7],
                      ["13.59.205.66"], ["deftsecurity.com"], ttl=60))
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    t = T0
    for i in range(40):
        label = "".join(rng.choice(alphabet) for _ in range(24))
        events.append(dns(t, "query", "10.9.9.10", "10.0.0.53", f"{label}.lookalikecloud.com", qtype=16))
        for client in range(5):
            events.append(dns(t + client * 5 * S, "query", f"10.0.1.{client + 1}", "10.0.0.53", "api.sharedservice.com"))
        t += int(2700 * S * (1 + rng.uniform(-0.5, 0.5)))
    events.append(dns(T0 + 100 * S, "response", "10.9.9.11", "10.0.0.53", "cdn.example-c2.net", ["203.0.113.80"],
                      ttl=3600))
    events.sort(key=lambda e: e["time_ns"])
    with open(os.path.join(HERE, "dns.jsonl"), "w") as out:
        for e in events:
            out.write(json.dumps(e, separators=(",", ":")) + "\n")

    flows = []
    for i in range(30):
        t = T0 + 110 * S + i * 60 * S + rng.randrange(-2 * S, 2 * S)
        flows.append(flow(t, "10.9.9.11", "203.0.113.80", "TCP", 50000 + i, 443, 1800 + rng.randrange(0, 40)))
        flows.append(flow(t + 7 * S, "10.9.9.12", "198.51.100.40", "GRE", 0, 0, 5000 + rng.randrange(0, 9000)))
        flows.append(flow(t + 9 * S, "fd00::12", "2001:db8::40", "ICMPv6", 0, 0, 64))
    flows.append(flow(T0 + 500 * S, "10.9.9.13", "13.59.205.66", "TCP", 40000, 443, 900))
    flows.sort(key=lambda f: f["time_flow_start_ns"])
    with open(os.path.join(HERE, "flows.jsonl"), "w") as out:
        for f in flows:
            out.write(json.dumps(f, separators=(",", ":")) + "\n")

    samples = []
    for i in range(30):
        t = T0 + i * 60 * S + rng.randrange(-S, S)
        for k in range(6):
            s = flow(t + k * 50_000_000, "10.9.9.14", "198.51.100.90", "TCP", 51000 + i, 443, 1500, kind="SFLOW_5",
                     packets=1)
            s["time_flow_end_ns"] = s["time_flow_start_ns"]
            s["sampling_rate"] = 1
            samples.append(s)
    with open(os.path.join(HERE, "sflow.jsonl"), "w") as out:
        for s in samples:
            out.write(json.dumps(s, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
