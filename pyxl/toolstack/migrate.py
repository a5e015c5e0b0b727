"""xl migrate's transport: the wire messages of tools/xl/xl.h, the command
("rune") that starts the receiver, and the receiver process itself.

xl runs `sh -c RUNE` with its stdin and stdout as the two pipes: by default
`exec ssh HOST xl migrate-receive [flags]`, with `-s ""` HOST itself. pyxl
does the same, and one thing more: when `-s` is not given and HOST names a
host of this state directory, the receiver is `pyxl --host HOST
migrate-receive` run as a local process (no ssh), so a migration between
two simulated hosts needs nothing else. Both sides then speak xl's protocol
byte for byte (docs/migration.md): banner, save header and stream, ready,
go, report and status byte.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass

RECEIVER_BANNER = b"xl migration receiver ready, send binary domain data.\n"  # no NUL
RECEIVER_READY = b"domain received, ready to unpause\0"
PERMISSION_TO_GO = b"domain is yours, you are cleared to unpause\0"
REPORT = b"my copy unpause results are as follows\0"  # then one status byte


@dataclass(repr=False, eq=False)
class ReceiverFlags:
    tty: bool = False
    timestamps: bool = False
    verbose: int = 0
    no_monitor: bool = False
    debug: bool = False
    paused: bool = False

    def xl_flags(self) -> str:
        """The global flags xl passes on: -t, -T, then one -v... for the verbosity."""
        return ((" -t" if self.tty else "") + (" -T" if self.timestamps else "")
                + (" -" + "v" * min(self.verbose, 4) if self.verbose else ""))

    def receive_flags(self) -> str:
        return ((" -e" if self.no_monitor else "") + (" -d" if self.debug else "")
                + (" -p" if self.paused else ""))


def rune(ssh_command: str, host: str, flags: ReceiverFlags) -> str:
    """main_migrate's command line for the receiver."""
    if not ssh_command:
        return host
    return (f"exec {ssh_command} {host} xl{flags.xl_flags()} migrate-receive"
            f"{flags.receive_flags()}")


def local_host(host: str) -> bool:
    """Whether `host` is a pyxl host of this state directory."""
    from pyxl.state.paths import list_hosts

    try:
        return host in list_hosts()
    except Exception:  # an unreadable state directory: not a local host
        return False


def local_rune(host: str, flags: ReceiverFlags) -> str:
    """The receiver on a host of this state directory: this pyxl, run again."""
    argv = [sys.executable, "-m", "pyxl", "--host", host]
    argv += flags.xl_flags().split() + ["migrate-receive"] + flags.receive_flags().split()
    return "exec " + " ".join(shlex.quote(a) for a in argv)


class Child:
    """The transport process: `sh -c RUNE`, its stdin our stream to it, its
    stdout the receiver's answers; its stderr handed line by line to `relay`
    (ssh would pass the far side's messages through to our terminal).

    The receiver's messages are passed on as we read its answers, on this
    thread: what it wrote to stderr before an answer is printed before we act
    on the answer, so the same migration prints the same lines in the same
    order every time (a thread copying stderr as it came would not)."""

    def __init__(self, command: str, relay):
        self.command = command
        self.proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.send = self.proc.stdin
        self.recv = _Answers(self.proc.stdout.fileno(), self.proc.stderr.fileno(), relay)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close_send(self) -> None:
        try:
            self.send.close()
        except OSError:
            pass

    def finish(self, timeout: float = 2.0) -> int | None:
        """migration_child_report: wait (2 s) for it; its exit status, or None."""
        self.close_send()
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.recv.pass_on(min(left, 0.05))
        self.recv.pass_on(0, to_end=True)
        return self.proc.returncode


class _Answers:
    """The receiver's stdout, read while its stderr is passed on first."""

    def __init__(self, out_fd: int, err_fd: int, relay):
        self.out_fd, self.err_fd, self.relay = out_fd, err_fd, relay
        self._partial = b""
        self._err_open = True

    def pass_on(self, wait: float, to_end: bool = False) -> None:
        """Relay the complete stderr lines there are (waiting up to `wait`
        for some); `to_end`: everything, up to the end of the stream."""
        while self._err_open:
            ready, _, _ = select.select([self.err_fd], [], [], wait)
            if not ready:
                return
            chunk = os.read(self.err_fd, 65536)
            if not chunk:
                self._err_open = False
                break
            self._emit(chunk)
            wait = 0
        if to_end and self._partial:
            self._emit(b"\n")

    def _emit(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self.relay(line.decode("utf-8", "replace"))

    def read(self, n: int) -> bytes:
        """Up to n octets of the receiver's answers; b"" at their end. Its
        messages written before them are relayed first."""
        got = bytearray()
        while len(got) < n:
            fds = [self.out_fd] + ([self.err_fd] if self._err_open else [])
            ready, _, _ = select.select(fds, [], [])
            if self.err_fd in ready:
                self.pass_on(0)
                continue
            chunk = os.read(self.out_fd, n - len(got))
            if not chunk:
                break
            got += chunk
        self.pass_on(0)
        return bytes(got)


def read_exactly(f, n: int) -> bytes:
    """Up to n octets (fewer only at end of stream, or if it fails)."""
    from pyxl.toolstack.stream import read_upto

    try:
        return read_upto(f, n)
    except OSError:
        return b""
