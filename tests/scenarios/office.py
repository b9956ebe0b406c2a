"""The periodic benign traffic every office network has, for generate.py: the traffic that looks like beaconing
to a scorer that counts flow records instead of connections, or addresses instead of services.

- Hosts keep office hours: laptops are awake on weekdays from about 8:00 to 18:00 (some stay on late, some
  work a weekend hour), desktops and servers always.
- Long-lived TCP sessions with keep-alives (a chat client's websocket every 30 s, a collaboration client's
  180 s heartbeat) and a VPN client's UDP keep-alive (20-25 s): one connection each, but a meter with a 15 s
  idle timeout (Cisco's and flowguard meter's default) exports every keep-alive as a record of the same
  5-tuple; the first carries SYN, the rest not. The services sit behind load balancers whose addresses
  rotate daily.
- AV and update agents: hourly fresh HTTPS connections from every host to a vendor name whose addresses
  rotate daily.
"""
SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10


def is_weekday(epoch, day):
    return (int(epoch // 86400) + day + 3) % 7 < 5  # 1970-01-01 was a Thursday (weekday 3)


def awake_windows(rng, epoch, days, laptop):
    """(start, end) epoch seconds when a host is on and its user's applications run."""
    if not laptop:
        return [(epoch, epoch + days * 86400)]
    windows = []
    for day in range(days):
        base = epoch + day * 86400
        if is_weekday(epoch, day):
            start = base + rng.uniform(7.5, 9.5) * 3600
            end = base + (rng.uniform(16.5, 18.5) if rng.random() < 0.85 else rng.uniform(19, 23)) * 3600
            windows.append((start, end))
        elif rng.random() < 0.2:  # a weekend hour or two
            start = base + rng.uniform(9, 20) * 3600
            windows.append((start, start + rng.uniform(0.5, 2.5) * 3600))
    return windows


def rotating_pool(rng, ext_ip, days, per_day):
    """A load-balanced service's front addresses: a fresh set every day."""
    return [[ext_ip(rng) for _ in range(per_day)] for _ in range(days)]


def keepalive_session(net, rng, t, stop, client, server, sport, dport, proto, interval, jitter, size):
    """One long-lived connection: a record per keep-alive (the idle timeout splits it), SYN only on the first."""
    first = True
    while t < stop:
        flags = (SYN | PSH | ACK) if first else (PSH | ACK)
        net.flow(t, client, server, sport, dport, proto, int(size * rng.uniform(0.9, 1.1)),
                 tcp_flags=flags if proto == 6 else 0)
        first = False
        t += interval + rng.uniform(-jitter, jitter)
    return t


def keepalive_client(net, rng, windows, client, pool_by_day, epoch, dport, proto, interval, jitter, size,
                     mean_session_h, resolve=None):
    """Sessions that reconnect every few hours (new source port, maybe a new front address) while awake."""
    for start, end in windows:
        t = start + rng.uniform(5, 120)
        while t < end:
            day = min(len(pool_by_day) - 1, int((t - epoch) // 86400))
            server = rng.choice(pool_by_day[day])
            if resolve:
                net.resolve(t - 0.05, client, resolve, pool_by_day[day], ttl=60)
            stop = min(end, t + rng.expovariate(1 / (mean_session_h * 3600)))
            sport = rng.randint(32768, 60999)
            t = keepalive_session(net, rng, t, stop, client, server, sport, dport, proto, interval, jitter, size)
            t += rng.uniform(1, 30)


def office_background(net, rng, hosts, machines, days, epoch, ext_ip):
    """Keep-alive sessions, VPN keep-alives and AV/update agents while each host is on (machines[h]); laptops
    (hosts not on all the time) may run a VPN client."""
    chat = rotating_pool(rng, ext_ip, days, 8)
    collab = rotating_pool(rng, ext_ip, days, 6)
    av = rotating_pool(rng, ext_ip, days, 4)
    vpn_gateway = [[ext_ip(rng)]] * days
    for h in hosts:
        windows = machines[h]
        laptop = windows != [(epoch, epoch + days * 86400)]
        if rng.random() < 0.5:
            keepalive_client(net, rng, windows, h, chat, epoch, 443, 6, 30, 1.0, 90, 3, "wss.chat.example-im.com")
        if rng.random() < 0.4:
            keepalive_client(net, rng, windows, h, collab, epoch, 443, 6, 180, 2.0, 350, 5,
                             "presence.collab.example-meet.com")
        if laptop and rng.random() < 0.25:
            keepalive_client(net, rng, windows, h, vpn_gateway, epoch, 4500, 17, 22.5, 2.5, 120, 8)
        for start, end in windows:  # AV signature checks: fresh connections, hourly
            t = start + rng.uniform(0, 3600)
            while t < end:
                day = min(days - 1, int((t - epoch) // 86400))
                address = rng.choice(av[day])
                net.resolve(t, h, "update.av-vendor.example-sec.com", av[day], ttl=300)
                net.flow(t + 0.05, h, address, rng.randint(32768, 60999), 443, 6, rng.randint(3000, 9000))
                t += 3600 + rng.uniform(-120, 120)
