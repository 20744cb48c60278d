"""Start the demo library (`python -m libcli.sandbox`) as a real server on
127.0.0.1 for a test, and read the demo cards it prints."""

from __future__ import annotations

import re
import subprocess
import sys


class Server:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "libcli.sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.cards = []
        self.big = None  # (number, pin, loans) of the --big-loans patron
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server ended: " + self.proc.stderr.read())
            m = re.fullmatch(r"card (\S+) pin (\S+) view (\S+)(?: loans (\d+))?\n", line)
            if m and m[4]:
                self.big = (m[1], m[2], int(m[4]))
                continue
            if m:
                self.cards.append(m.groups()[:3])
                continue
            m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
            assert m, line
            self.url = m[1]
            break

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
