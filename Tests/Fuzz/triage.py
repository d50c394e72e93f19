#!/usr/bin/env python3
"""Groups a harness's findings by where they stop the agent: runs each input in FOLDER once through the libFuzzer
binary, takes the first stack frame in the project's Sources/ (else the first Swift frame), and prints one line per
distinct place with the count, the kind (crash, leak, timeout, oom), the smallest input and a reproduction command.

Usage: triage.py BINARY FOLDER
"""
import os
import re
import subprocess
import sys

binary, folder = sys.argv[1], sys.argv[2]
frame = re.compile(r"#\d+ 0x[0-9a-f]+ in (\S+) (/\S+?\.swift):(\d+)")
environment = dict(os.environ, SWIFT_BACKTRACE="enable=no")
groups = {}
root = os.getcwd() + "/"


def place(file, line):
    """A frame's file relative to the repository (Sources/..., Tests/...), with its line."""
    return f"{file[len(root):] if file.startswith(root) else file}:{line}"


for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    kind = name.split("-")[0]
    try:
        run = subprocess.run([binary, "-timeout=10", "-rss_limit_mb=2048", path], capture_output=True, text=True,
                             errors="replace", timeout=60, env=environment)
        output = run.stdout + run.stderr
    except subprocess.TimeoutExpired:
        output = ""
    frames = frame.findall(output)
    chosen = next((f for f in frames if "/Sources/" in f[1]), frames[0] if frames else None)
    if chosen:
        symbol, file, line = chosen
        where = place(file, line)
    else:
        symbol, where = "", "(no Swift frame)"
    key = (kind, where)
    entry = groups.setdefault(key, {"count": 0, "smallest": path, "symbol": symbol, "trace": []})
    entry["count"] += 1
    if os.path.getsize(path) < os.path.getsize(entry["smallest"]):
        entry["smallest"] = path
    if not entry["trace"]:
        entry["trace"] = [place(f[1], f[2]) for f in frames[:5]]

for (kind, where), entry in sorted(groups.items(), key=lambda item: -item[1]["count"]):
    symbol = entry["symbol"]
    if symbol:
        try:
            symbol = subprocess.run(["swift", "demangle", "--simplified", "--compact", symbol], capture_output=True,
                                    text=True).stdout.strip()
        except OSError:
            pass
    with open(entry["smallest"], "rb") as f:
        data = f.read(160)
    print(f"{entry['count']:4d} {kind} at {where} in {symbol}")
    print(f"       frames: {' < '.join(entry['trace'])}")
    print(f"       input:  {data!r}{' ...' if os.path.getsize(entry['smallest']) > 160 else ''}")
    print(f"       repro:  {binary} {entry['smallest']}")
