"""Drive the real `mpc` in a pseudo-terminal, as a person at a keyboard would.

stdin, stdout and stderr are the pty's slave end, so `mpc` sees a terminal: prompts (getpass
reads /dev/tty, which is this pty), the confirmation question and the rich status line all
appear. ``expect`` reads until a text shows up (with a deadline; no sleeps).
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        columns: int | None = None,
    ) -> None:
        """``columns``: the terminal's width as the kernel reports it (TIOCSWINSZ), as a window
        of that size would; else the pty's default."""
        import pty

        master, slave = pty.openpty()
        if columns is not None:
            import fcntl
            import struct
            import termios

            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        os.set_blocking(master, False)
        self.master = master
        self.proc = subprocess.Popen(
            list(args),
            env={**env, "TERM": "xterm"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,  # the pty becomes its controlling terminal (getpass)
            close_fds=True,
            cwd=cwd,
        )
        os.close(slave)
        self.raw = ""  # everything the terminal showed, ANSI codes included
        self._seen = 0

    @property
    def text(self) -> str:
        """What was shown, without escape codes."""
        return ANSI.sub("", self.raw)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.raw += chunk.decode("utf-8", "replace")
        return True

    def expect(self, needle: str, timeout: float = 60.0) -> str:
        """Wait until ``needle`` appears after what earlier ``expect`` calls consumed."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            at = text.find(needle, self._seen)
            if at >= 0:
                self._seen = at + len(needle)
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout} s; shown:\n{text}")
            if not self._read(0.5) and self.proc.poll() is not None:
                while self._read(0.05):
                    pass
                if self.text.find(needle, self._seen) < 0:
                    raise AssertionError(f"{needle!r} never appeared; shown:\n{self.text}")

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def interrupt(self) -> None:
        """Ctrl-C as the terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05):
            pass
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)
