#!/usr/bin/env python3
"""Holds every packet of one NFQUEUE for a fixed time, then accepts it.

Usage: delayer.py QUEUE DELAY_MS

Run inside a network namespace whose iptables rules send packets to queue
QUEUE (`-j NFQUEUE --queue-num QUEUE`). Each packet is accepted DELAY_MS
after it reached this program; since every packet waits the same time,
packets leave in the order they came. Prints `ready` on stdout once the
queue is bound, and exits when its parent does (the testbed that started it).

It speaks nfnetlink_queue over a raw AF_NETLINK socket (Python standard
library only): the kernel sends packet metadata (copy mode META, never the
payload), and one batch verdict accepts every packet whose id is at most the
given one, so a burst of due packets costs one message.
"""
import collections
import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 1 << 2
NF_ACCEPT = 1
PR_SET_PDEATHSIG = 1

# Packets the kernel may hold for this queue before it drops new ones.
QUEUE_MAXLEN = 65536
# Socket receive buffer: room for QUEUE_MAXLEN metadata messages.
RCVBUF = 16 * 1024 * 1024
# One read: a datagram of the socket (one packet's metadata, or a few).
RECV_BYTES = 256 * 1024
# Scheduling priority increment (negative: ahead of ordinary processes; root only).
NICE = -10


def attr(kind, data):
    size = 4 + len(data)
    return struct.pack('=HH', size, kind) + data + b'\0' * ((4 - size % 4) % 4)


def message(kind, flags, seq, queue, attrs):
    # nfgenmsg: family AF_UNSPEC, version 0, resource id (the queue) big-endian
    payload = struct.pack('=BB', 0, 0) + struct.pack('!H', queue) + b''.join(attrs)
    return struct.pack('=IHHII', 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + payload


def configure(sock, queue, seq, attrs):
    """Sends one config message and raises if the kernel refuses it."""
    sock.send(message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, seq, queue, attrs))
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _flags, got_seq, _pid = struct.unpack_from('=IHHII', data, offset)
            if kind == NLMSG_ERROR and got_seq == seq:
                (err,) = struct.unpack_from('=i', data, offset + 16)
                if err != 0:
                    raise OSError(-err, os.strerror(-err))
                return
            offset += (length + 3) & ~3


def packet_ids(data):
    """The ids of the queued-packet messages in one netlink read, in order."""
    ids = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind, _flags, _seq, _pid = struct.unpack_from('=IHHII', data, offset)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            pos = offset + 20  # after nlmsghdr and nfgenmsg
            end = offset + length
            while pos + 4 <= end:
                alen, atype = struct.unpack_from('=HH', data, pos)
                if alen < 4:
                    break
                if (atype & 0x7fff) == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from('!I', data, pos + 4)[0])
                    break
                pos += (alen + 3) & ~3
        offset += (length + 3) & ~3
    return ids


def main():
    if len(sys.argv) != 3:
        sys.stderr.write('usage: delayer.py QUEUE DELAY_MS\n')
        return 2
    queue = int(sys.argv[1])
    delay = float(sys.argv[2]) / 1000.0
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Wake on time on a busy machine: a late wakeup is added delay.
    try:
        os.nice(NICE)
    except OSError:
        pass

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)  # SO_RCVBUFFORCE (root)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)

    configure(sock, queue, 1, [attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, 0))])
    configure(sock, queue, 2, [
        attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META)),
        attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack('!I', QUEUE_MAXLEN)),
    ])
    # Whole GSO packets, never segmented for us: only metadata is read.
    try:
        configure(sock, queue, 3, [
            attr(NFQA_CFG_FLAGS, struct.pack('!I', NFQA_CFG_F_GSO)),
            attr(NFQA_CFG_MASK, struct.pack('!I', NFQA_CFG_F_GSO)),
        ])
    except OSError:
        pass
    sock.setblocking(False)
    sys.stdout.write('ready\n')
    sys.stdout.flush()

    held = collections.deque()  # (due time, packet id), in arrival order
    buf = bytearray(RECV_BYTES)
    view = memoryview(buf)
    seq = 3
    while True:
        timeout = None
        if held:
            timeout = max(0.0, held[0][0] - time.monotonic())
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            now = time.monotonic()
            while True:
                try:
                    n = sock.recv_into(buf)
                except BlockingIOError:
                    break
                for pid in packet_ids(view[:n]):
                    held.append((now + delay, pid))
        now = time.monotonic()
        last = None
        while held and held[0][0] <= now:
            last = held.popleft()[1]
        if last is not None:
            seq += 1
            sock.send(message(NFQNL_MSG_VERDICT_BATCH, NLM_F_REQUEST, seq, queue, [
                attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, last)),
            ]))


if __name__ == '__main__':
    sys.exit(main())
