"""Loaded by every Python process the offline test starts (it is put on PYTHONPATH).

An audit hook writes each attempt to resolve a host name or to open, bind or send on a network
socket (anything but AF_UNIX and loopback) to the file named by REPLYDESK_TEST_NET_LOG. Native
code (llama.cpp, Chroma's Rust core) raises no audit events: the network namespace covers it.
"""

import os
import socket
import sys

_LOG = os.environ.get("REPLYDESK_TEST_NET_LOG")
_SOCKET_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
_NAME_EVENTS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                "socket.gethostbyaddr"}
_LOOPBACK = {"127.0.0.1", "::1", "localhost", b"localhost"}


def _loopback(address: object) -> bool:
    return isinstance(address, tuple) and bool(address) and address[0] in _LOOPBACK


def _hook(event: str, args: tuple) -> None:
    if event in _SOCKET_EVENTS:
        sock = args[0]
        address = args[1]
        if getattr(sock, "family", None) == socket.AF_UNIX or _loopback(address):
            return  # e.g. urllib3 binds ('::1', 0) at import to learn whether IPv6 works
        detail = repr(address)
    elif event in _NAME_EVENTS:
        if args[0] in _LOOPBACK:
            return
        detail = repr(args[0])
    else:
        return
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {event} {detail} {' '.join(sys.argv)[:200]}\n")


if _LOG:
    sys.addaudithook(_hook)
