#!/usr/bin/env python3
"""Where the machine's CPU goes while a scale run runs, every INTERVAL seconds.

Usage: cpu-sample.py [INTERVAL_S]      (default 10; stop it with Ctrl-C)

Run it beside `npm run testbed -- --nodes N ...`. Each line gives the share of
the whole machine that was busy (1.00: every core) and, in cores, what went to
scale nodes up for more than FRESH_S seconds (`old`), to younger ones
(`fresh`: starting, or just started), to the links' delayers, to the harness
and to everything else. It reads /proc only (Python standard library).
"""
import os
import sys
import time

# A scale node counts as fresh for this long after it started.
FRESH_S = 120

HZ = os.sysconf('SC_CLK_TCK')


def boot_time():
    with open('/proc/stat') as f:
        for line in f:
            if line.startswith('btime'):
                return int(line.split()[1])
    return 0


def processes(boot):
    """pid -> (CPU ticks used so far, start time, kind)."""
    out = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/stat') as f:
                stat = f.read()
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmd = f.read().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue
        fields = stat[stat.rindex(')') + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        started = int(fields[19]) / HZ + boot
        if 'scale-node' in cmd:
            kind = 'node'
        elif 'delayer.py' in cmd:
            kind = 'delayer'
        elif 'testbed/run.mjs' in cmd:
            kind = 'harness'
        else:
            kind = 'other'
        out[pid] = (ticks, started, kind)
    return out


def machine():
    """(all ticks, idle ticks) of the whole machine."""
    with open('/proc/stat') as f:
        values = list(map(int, f.readline().split()[1:]))
    return sum(values), values[3] + values[4]


def main():
    interval = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    boot = boot_time()
    before, total_before = processes(boot), machine()
    while True:
        time.sleep(interval)
        now = time.time()
        after, total_after = processes(boot), machine()
        cores = {'old': 0.0, 'fresh': 0.0, 'delayer': 0.0, 'harness': 0.0, 'other': 0.0}
        fresh = 0
        for pid, (ticks, started, kind) in after.items():
            used = ticks - before[pid][0] if pid in before else ticks
            if kind == 'node':
                young = now - started < FRESH_S
                fresh += young
                kind = 'fresh' if young else 'old'
            cores[kind] += used / HZ / interval
        all_ticks = total_after[0] - total_before[0]
        busy = 1 - (total_after[1] - total_before[1]) / max(1, all_ticks)
        print(time.strftime('%H:%M:%S'), f'busy={busy:.2f}',
              ' '.join(f'{kind}={value:.2f}' for kind, value in cores.items()),
              f'fresh_nodes={fresh}', flush=True)
        before, total_before = after, total_after


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass
