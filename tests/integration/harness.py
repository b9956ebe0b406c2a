"""Shared pieces of the integration scripts: failure collection, free ports, waiting, and the closing
'N passed, N failed' line that CI reads."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}")
    return cond


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(metrics_port):
    """flowguard's /metrics on 127.0.0.1 as {'name{labels}': value}."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def make_certificate(workdir):
    """A self-signed certificate for 127.0.0.1 (openssl): (cert.pem, key.pem) paths."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def start_nfdump_collector(binary, workdir, name=None):
    """nfcapd or sfcapd on a free 127.0.0.1 port, writing to its own directory under workdir:
    (process, port, directory). Returns once it has had time to bind its socket."""
    port = free_udp_port()
    directory = os.path.join(workdir, name or binary)
    os.makedirs(directory)
    proc = subprocess.Popen([binary, "-b", "127.0.0.1", "-p", str(port), "-w", directory, "-t", "86400"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, port, directory


def stop_nfdump_collector(proc):
    """Lets the last datagrams arrive, then stops the collector (it writes its file on SIGTERM)."""
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def run_case(name, body, keep=False):
    """Runs body(workdir) in a fresh work directory, kept when something failed (or when asked), and
    prints the closing line. Returns the process exit code."""
    workdir = tempfile.mkdtemp(prefix=f"flowguard-{name}-")
    try:
        body(workdir)
    except Exception as e:  # a peer that hangs or dies is a failure with its reason, not a stack of noise
        FAILURES.append(f"{type(e).__name__}: {e}")
        print(f"FAIL: {e}")
    if keep or FAILURES:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{0 if FAILURES else 1} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0
