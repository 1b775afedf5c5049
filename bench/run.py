#!/usr/bin/env python3
"""Whole-process benchmark of fabmon against tcpdump, measured in the same run.

    python3 bench/run.py [--packets 5000000] [--runs 5] [--scale 5] [--record]

Builds fabmon in release mode, generates a `fabmon synth` capture of --packets packets (and one
--scale times larger for the memory check; generated here, never committed), then alternates,
run after run:

  reference   tcpdump -r FILE -w /dev/null
  foundation  fabmon decode FILE --format none --no-decoders   (read, dissect, flows, TCP)
  decode      fabmon decode FILE --format none                 (+ HSMS, Modbus, BACnet decoders)
  jsonl       fabmon decode FILE --format jsonl > /dev/null     (+ writing every message)
  2 workers   fabmon decode FILE --format none --workers 2
  run         fabmon run FILE                                  (+ inventory, rules, alerts)
  run --out   fabmon run FILE --out DIR                        (+ the Parquet dataset; DIR emptied
                                                                before every run)

and reports the median wall time of each, its ratio to the reference, and the peak resident
set size of each process (from wait4, per child). Ratios, not absolute times, are the figures
that carry over between machines. --record appends the table to bench/RESULTS.md.
"""
import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
# cargo puts the binary under CARGO_TARGET_DIR when it is set (worktrees share one elsewhere).
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
FABMON = os.path.join(TARGET, "release", "fabmon")


def timed(cmd, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (seconds, peak RSS in MiB) of that child alone."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench: %s failed with status %d" % (" ".join(cmd), os.waitstatus_to_exitcode(status)))
    return dt, ru.ru_maxrss / 1024.0


RUN_OUT = os.path.join(OUT, "run-dataset")


def dir_size(d):
    return sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(d) for f in fs)


def ensure_capture(n):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "synth-%d.pcap" % n)
    if not os.path.exists(path):
        print("bench: generating %s" % path, file=sys.stderr)
        subprocess.run([FABMON, "synth", "--packets", str(n), "--out", path, "--seed", "1"], check=True)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=int, default=5, help="size factor of the memory-flatness capture (0: skip)")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    a = ap.parse_args()

    if subprocess.run(["sh", "-c", "command -v tcpdump"], capture_output=True).returncode != 0:
        sys.exit("bench: tcpdump is needed as the reference (apt-get install tcpdump)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "fabmon"], cwd=ROOT, check=True)
    cap = ensure_capture(a.packets)
    size = os.path.getsize(cap)

    stages = [
        ("reference: tcpdump -r -w /dev/null", ["tcpdump", "-r", cap, "-w", "/dev/null"], None),
        ("foundation: read, dissect, flows, TCP", [FABMON, "decode", cap, "--format", "none", "--no-decoders", "-q"], None),
        ("decode: + HSMS/Modbus/BACnet", [FABMON, "decode", cap, "--format", "none", "-q"], None),
        ("decode --format jsonl > /dev/null", [FABMON, "decode", cap, "--format", "jsonl", "-q"], None),
        ("decode --workers 2", [FABMON, "decode", cap, "--format", "none", "-q", "--workers", "2"], None),
        ("run: + inventory, rules, alerts", [FABMON, "run", cap, "--sensor-id", "bench"], None),
        ("run --out DIR: + Parquet dataset", [FABMON, "run", cap, "--sensor-id", "bench", "--out", RUN_OUT], RUN_OUT),
    ]
    times = {s[0]: [] for s in stages}
    rss = {s[0]: [] for s in stages}
    # Warm the page cache once so every contender reads from memory.
    timed(["cat", cap])
    load_before = os.getloadavg()
    for _ in range(a.runs):
        for name, cmd, fresh in stages:
            if fresh:
                shutil.rmtree(fresh, ignore_errors=True)
            t, m = timed(cmd)
            times[name].append(t)
            rss[name].append(m)

    ref = statistics.median(times[stages[0][0]])
    found = statistics.median(times[stages[1][0]])
    rows = []
    for name, _, _ in stages:
        med = statistics.median(times[name])
        rows.append((name, med, med / ref, max(rss[name])))

    big = None
    if a.scale > 1:
        bigcap = ensure_capture(a.packets * a.scale)
        tb, mb = timed([FABMON, "decode", bigcap, "--format", "none", "--no-decoders", "-q"])
        td, md = timed([FABMON, "decode", bigcap, "--format", "none", "-q"])
        big = (a.packets * a.scale, os.path.getsize(bigcap), tb, mb, td, md)

    load_after = os.getloadavg()
    lines = []
    lines.append("### %s — %d packets (%.0f MB), median of %d alternating runs" % (
        datetime.date.today().isoformat(), a.packets, size / 1e6, a.runs))
    lines.append("")
    lines.append("Load average (1, 5, 15 min) before the runs %.2f %.2f %.2f, after %.2f %.2f %.2f; %d CPUs." % (
        load_before + load_after + (os.cpu_count(),)))
    lines.append("")
    lines.append("| stage | median s | × tcpdump | peak RSS MiB |")
    lines.append("|---|---:|---:|---:|")
    for name, med, ratio, m in rows:
        lines.append("| %s | %.3f | %.2f | %.1f |" % (name, med, ratio, m))
    dec = statistics.median(times[stages[2][0]])
    lines.append("")
    lines.append("- packets/s: tcpdump %.2f M, foundation %.2f M, decode %.2f M" % (
        a.packets / ref / 1e6, a.packets / found / 1e6, a.packets / dec / 1e6))
    lines.append("- decoders add %.2f× of the foundation stage's own time ((decode − foundation) / foundation)" % (
        (dec - found) / found))
    w2 = statistics.median(times[stages[4][0]])
    lines.append("- 2 workers: %.2f× the speed of 1 worker (decode)" % (dec / w2))
    run_out = statistics.median(times[stages[6][0]])
    lines.append("- run --out DIR: %.2f× the time of decode --format none (target <= 1.5), peak RSS %.1f MiB "
                 "(target < 256 MiB); dataset %.1f MB" % (run_out / dec, max(rss[stages[6][0]]), dir_size(RUN_OUT) / 1e6))
    if big:
        n, sz, tb, mb, td, md = big
        lines.append("- %d packets (%.0f MB, %d× larger): foundation %.2f s, peak RSS %.1f MiB; decode %.2f s, peak RSS %.1f MiB" % (
            n, sz / 1e6, a.scale, tb, mb, td, md))
    text = "\n".join(lines) + "\n"
    print(text)
    if a.record:
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
