"""Time one loans-page parser in a process of its own, as `libcli` runs it.

    python bench/parse_timing.py finna|webpac PAGE.html RUNS

Run by bench/run.py with the regular install's Python, so the process holds
what a `libcli` process holds (the parser and its imports, not the demo
library or the benchmark's own state). Prints JSON: the first parse in the
process (patterns compiled, caches and memory cold: what a command pays for
its first page), then, after WARM_UP parses more, RUNS parses in turns with
lexbor alone building the tree of the same page (the steady state; both see
the same load). CPU time is this thread's (`time.thread_time`), robust to
other processes' load.
"""

from __future__ import annotations

import json
import sys
import time

WARM_UP = 10


def main() -> None:
    kind, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(path, encoding="utf-8").read()
    from selectolax.lexbor import LexborHTMLParser

    if kind == "finna":
        from libcli.backends.finna_pages import parse_loans

        def parse():
            return parse_loans(text).loans
    else:
        from libcli.backends.webpac_pages import parse_items

        def parse():
            return parse_items(text).rows

    c0 = time.thread_time()
    loans = len(parse())
    first = time.thread_time() - c0
    for _ in range(WARM_UP):
        parse()
    wall, cpu, tree = [], [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        parse()
        c1, t1 = time.thread_time(), time.perf_counter()
        LexborHTMLParser(text)
        c2 = time.thread_time()
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
        tree.append(c2 - c1)
    json.dump({"loans": loans, "page_bytes": len(text.encode()), "first_cpu": first,
               "wall": wall, "cpu": cpu, "tree_cpu": tree}, sys.stdout)


if __name__ == "__main__":
    main()
