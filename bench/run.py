"""libcli benchmarks: how close is a whole `libcli` process to the network's limit?

    python bench/run.py            # full run (~10 minutes on 2 cores)
    python bench/run.py --quick    # fewer runs and latencies (~3 minutes)
    python bench/run.py --scenarios '4 cards' --latencies 0,100,200 --runs 11   # ~5 minutes:
        # every section, the command rows of the 4-card profiles only

Run it with the interpreter of the environment libcli is installed in (e.g.
`.venv/bin/python bench/run.py`). It starts the demo library as real servers
on 127.0.0.1 (bench/server.py, one process per view), adds cards in a
temporary profile (temporary LIBCLI_CONFIG_DIR/CACHE_DIR/DATA_DIR and a
plain-file keyring under a temporary XDG_DATA_HOME; the PINs go in through
--pin-stdin), and times whole `libcli` processes at several added latencies.

For each command: median and spread over several runs, the local part (the
same command with no added latency), the network part (median at latency L
minus the local part), the critical path in round trips (network part / L)
and the ratio of the network part to (ideal round trips x L). What libcli
adds over the libraries it stands on (`--only overhead`) is measured in the
same rounds as a bare `python -c "import click, httpx, ..."`. The HTTP
requests each run made come from LIBCLI_STATS_FILE (libcli appends one JSON
line per run) and are cross-checked against the servers' own counters.

Results: bench/RESULTS.md (the tables) and bench/out/*.json (raw numbers).
Every server started here is stopped at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
VIEWS = ("heili", "tuni", "helmet", "tallinn")
HEAVY = ("httpx", "keyring", "selectolax", "tabulate")


def dev_libcli_cmd() -> list[str]:
    """The dev venv's (editable) libcli: used only for the labelled comparison lines."""
    script = Path(sys.executable).with_name("libcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "libcli"]


# Set by main() to the regular install: every measured process runs libcli as a
# user's `pip install` leaves it, bytecode compiled. The editable tree under
# PYTHONDONTWRITEBYTECODE=1 recompiles libcli on every run (about 100 ms).
_LIBCLI: list[str] = []
_PYTHON: list[str] = []  # the regular install's python, for the baseline runs


def libcli_cmd() -> list[str]:
    return list(_LIBCLI) or dev_libcli_cmd()


# The demo servers stand in for libraries' servers, which run on machines of
# their own: here they get CPUs of their own, and the measured libcli process
# the first CPU alone. Sharing all CPUs, the servers' work competed with
# libcli's at L = 0 more than at L > 0, and the difference leaked into the
# network part (ratios from 0.2 to 1.7 at 50 ms, depending on the load).
def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: no pinning
        return []


CLIENT_CPUS = set(_cpus()[:1]) if len(_cpus()) >= 2 else set()
SERVER_CPUS = set(_cpus()[1:]) if len(_cpus()) >= 2 else set()


def pinned(cpus: set[int]):
    """A preexec_fn running the child on `cpus` (None: no pinning)."""
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


# --- servers --------------------------------------------------------------------


class Server:
    def __init__(self, view: str, *, big: int, renew: int):
        self.view = view
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--view", view, "--port", "0",
             "--big", str(big), "--renew", str(renew)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pinned(SERVER_CPUS))
        self.cards: list[tuple[str, str, int | None]] = []  # number, pin, loans (extra patrons)
        deadline = time.monotonic() + 60
        self.url = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server {view} exited: {self.proc.stderr.read()[-2000:]}")
            m = re.match(r"card (\S+) pin (\S+) view \S+(?: loans (\d+))?", line)
            if m:
                self.cards.append((m[1], m[2], int(m[3]) if m[3] else None))
            m = re.match(r"listening on (\S+)", line)
            if m:
                self.url = m[1]
                break
        if self.url is None:
            raise RuntimeError(f"server {view} did not start")

    def control(self, path: str, method: str = "POST") -> dict:
        req = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def set_latency(servers: dict[str, Server], lat: int) -> None:
    for s in servers.values():
        s.control(f"/__bench/latency?ms={lat}")


# --- a profile: a set of cards in its own config/cache dirs -------------------------


class Profile:
    def __init__(self, root: Path, name: str, keyring_home: Path):
        self.name = name
        self.dir = root / name
        self.env = dict(os.environ)
        # A home of its own, as on a user's machine: no LIBCLI_*_DIR override
        # and no XDG variable for config and cache, so libcli finds
        # ~/.config/libcli and ~/.cache/libcli the way it does for most users.
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env["HOME"] = str(self.dir)
        for kind in ("config", "cache", "data"):
            self.env.pop(f"LIBCLI_{kind.upper()}_DIR", None)
        for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            self.env.pop(var, None)
        self.env.update({
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(keyring_home),
            "NO_COLOR": "1",
            "LIBCLI_STATS_FILE": str(self.dir / "stats.jsonl"),
        })
        self.env.pop("LIBCLI_RAISE_ERRORS", None)
        self.cards: list[str] = []

    def add(self, server: Server, number: str, pin: str) -> None:
        name = f"{server.view}-{number}"
        p = subprocess.run(libcli_cmd() + ["card", "add", name, "--library", server.view,
                                           "--number", number, "--url", server.url, "--pin-stdin"],
                           input=pin + "\n", env=self.env, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"card add failed: {p.stderr}")
        self.cards.append(name)

    def forget_sessions(self) -> None:
        for f in (self.dir / ".cache" / "libcli" / "sessions").glob("*.json"):
            f.unlink()

    def last_stats(self) -> dict | None:
        path = self.dir / "stats.jsonl"
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return None
        return json.loads(lines[-1]) if lines else None


def run_process(cmd: list[str], env: dict, *, stdin: str | None = None) -> tuple[float, int, int, str]:
    """Run one process; wall seconds, exit code, peak RSS (KiB) of that child, stderr.
    The child's CPU time (user + system) is kept in LAST_CPU."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=pinned(CLIENT_CPUS))
    if stdin:
        p.stdin.write(stdin.encode())
        p.stdin.close()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    p.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, p.returncode, usage.ru_maxrss, err.decode(errors="replace")


LAST_CPU = [0.0]


def summary(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median": statistics.median(xs), "min": xs[0], "max": xs[-1], "n": len(xs),
            "p25": xs[len(xs) // 4], "p75": xs[(3 * len(xs)) // 4]}


# --- the scenarios --------------------------------------------------------------------

# name: (argv, profile, ideal round trips of the critical path, cold?)
SCENARIOS = {
    "loans warm, 1 card": (["loans"], "c1", 1, False),
    "loans warm, 4 cards": (["loans"], "c4", 1, False),
    "loans warm, 10 cards": (["loans"], "c10", 1, False),
    "loans warm, 10 cards x 100 loans": (["loans"], "big10", 1, False),
    "status warm, 1 card": (["status"], "c1", 1, False),
    "status warm, 4 cards": (["status"], "c4", 1, False),
    "status warm, 10 cards": (["status"], "c10", 1, False),
    "remind warm, 4 cards": (["remind"], "c4", 1, False),
    "remind warm, 10 cards": (["remind"], "c10", 1, False),
    "loans cold, 1 card": (["loans"], "c1", 3, True),
    "loans cold, 4 cards": (["loans"], "c4", 3, True),
    "loans cold, 10 cards": (["loans"], "c10", 3, True),
    "status cold, 4 cards": (["status"], "c4", 3, True),
    # Read the loans (tokens, CSRF), post the renewal, read the page the post
    # redirects to (Finna answers a post with a redirect to the result page).
    "renew --all, 1 card x 20 loans": (["renew", "--all"], "renew1", 3, False),
    "renew --all, 4 cards x 20 loans": (["renew", "--all"], "renew4", 3, False),
}


def bench_commands(servers: dict[str, Server], profiles: dict[str, Profile], latencies: list[int],
                   runs: int, scenarios: list[str], log) -> tuple[dict, dict]:
    """Every scenario at every latency, interleaved: run k measures each latency
    once (in a rotated order), so the machine's drift hits all latencies alike.
    With each round, a `python -c 'import click'` (the machine's speed at that
    moment, for the local parts). Returns the results and that baseline."""

    set_latency(servers, 0)
    for prof in profiles.values():  # warm every profile's sessions (not measured)
        run_process(libcli_cmd() + ["loans"], prof.env)
    results: dict = {name: {} for name in scenarios}
    baseline: list[float] = []
    for name in scenarios:
        argv, pname, ideal, cold = SCENARIOS[name]
        prof = profiles[pname]
        cells = {lat: {"times": [], "cpu": [], "run_ms": [], "requests": [], "server_requests": [], "maxrss_kib": [],
                       "exit_codes": [], "ideal_rt": ideal} for lat in latencies}
        for k in range(runs):
            baseline.append(run_process((_PYTHON or [sys.executable]) + ["-c", "import click"],
                                        prof.env)[0])
            order = latencies[k % len(latencies):] + latencies[:k % len(latencies)]
            for lat in order:
                set_latency(servers, lat)
                if cold:
                    prof.forget_sessions()
                if argv[0] == "renew":
                    for s in servers.values():
                        s.control("/__bench/reset")
                before = {v: s.control("/__bench/stats", "GET")["requests"] for v, s in servers.items()}
                elapsed, code, maxrss, err = run_process(libcli_cmd() + argv, prof.env)
                after = {v: s.control("/__bench/stats", "GET")["requests"] for v, s in servers.items()}
                if code not in (0, 3):
                    log(f"  ! {name} at {lat} ms exited {code}: {err.strip()[-300:]}")
                stats = prof.last_stats() or {}
                c = cells[lat]
                c["times"].append(elapsed)
                c["cpu"].append(LAST_CPU[0])
                c["run_ms"].append(stats.get("run_ms"))
                c["requests"].append(stats.get("total"))
                c["server_requests"].append(sum(after[v] - before[v] for v in servers))
                c["maxrss_kib"].append(maxrss)
                c["exit_codes"].append(code)
        if cold:  # leave the profile warm for the next scenarios
            set_latency(servers, 0)
            run_process(libcli_cmd() + ["loans"], prof.env)
        for lat, c in cells.items():
            results[name][lat] = c | summary(c["times"])
        line = "  ".join(f"L={lat}: {results[name][lat]['median'] * 1000:.0f}" for lat in latencies)
        log(f"  {name:34s} {line} ms; requests {cells[latencies[-1]]['requests'][-1]} "
            f"(server {cells[latencies[-1]]['server_requests'][-1]})")
    set_latency(servers, 0)
    log(f"  python -c 'import click', with every round: median {statistics.median(baseline) * 1000:.1f} ms")
    return results, summary(baseline)


def analyse(results: dict) -> dict:
    """Split into local and network parts; estimate the critical path in round trips.

    Three estimates of the network part at latency L: the difference of the
    medians of whole processes (the headline), the difference of the minima
    (least disturbed by other load on the machine), and the difference of the
    medians of the time spent inside the account run (LIBCLI_STATS_FILE
    run_ms: requests and parsing, without start-up and imports)."""
    out = {}
    for name, by_lat in results.items():
        by_lat = {int(k): v for k, v in by_lat.items()}
        if 0 not in by_lat:
            continue
        base = by_lat[0]
        local = base["median"]
        run0 = [x for x in base.get("run_ms", []) if x is not None]
        rows = {}
        for lat, r in by_lat.items():
            if lat == 0:
                continue
            ideal = r["ideal_rt"]
            network = r["median"] - local
            network_min = r["min"] - base["min"]
            runl = [x for x in r.get("run_ms", []) if x is not None]
            network_run = (statistics.median(runl) - statistics.median(run0)) / 1000 if runl and run0 else None
            rows[lat] = {"network": network, "round_trips": network / (lat / 1000),
                         "ratio": network / (ideal * lat / 1000),
                         "ratio_min": network_min / (ideal * lat / 1000),
                         "ratio_run": network_run / (ideal * lat / 1000) if network_run is not None else None}
        cpu = base.get("cpu") or []
        out[name] = {"local": local, "local_cpu": statistics.median(cpu) if cpu else None,
                     "by_latency": rows}
    return out


# --- start-up, imports, memory, parsing ----------------------------------------------------


def regular_install(root: Path) -> tuple[str, list[str]]:
    """libcli as a regular (non-editable) install: a venv whose site-packages
    holds a copy of the package and a .pth naming this environment's
    site-packages for the dependencies. The dev venv's editable install adds
    a finder to every start-up (site imports pathlib, re, urllib ...); a user's
    `pip install .` does not. Returns (python, libcli command)."""
    import site
    import sysconfig

    venv = root / "regular-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    target = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    deps = sysconfig.get_paths()["purelib"]
    (target / "deps.pth").write_text(deps + "\n")
    src = Path(__import__("libcli").__file__).parent
    shutil.copytree(src, target / "libcli", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(py), "-m", "compileall", "-q", str(target / "libcli")], check=True)
    script = venv / "bin" / "libcli"
    script.write_text(f"#!{py}\nimport sys\nfrom libcli.cli import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    script.chmod(0o755)
    del site
    return str(py), [str(script)]


def completion_env(env: dict) -> dict:
    """`env` as bash's completion of `libcli renew <TAB>` sets it: the loan IDs,
    from the cards' snapshots."""
    return dict(env, _LIBCLI_COMPLETE="bash_complete", COMP_WORDS="libcli renew ", COMP_CWORD="2")


def bench_startup(env: dict, runs: int, log, regular: tuple[str, list[str]]) -> dict:
    py = sys.executable
    rpy, rcmd = regular
    cases = {
        "python -c pass": ([rpy, "-c", "pass"], env),
        "python -S -c pass": ([rpy, "-S", "-c", "pass"], env),
        "python -c 'import click'": ([rpy, "-c", "import click"], env),
        "libcli --version": (rcmd + ["--version"], env),
        "libcli --help": (rcmd + ["--help"], env),
        "completion (renew IDs)": (rcmd, completion_env(env)),
        "libcli loans --offline (4 cards)": (rcmd + ["loans", "--offline"], env),
        "dev venv: python -c pass": ([py, "-c", "pass"], env),
        "dev venv (editable): libcli --version": (dev_libcli_cmd() + ["--version"], env),
        "dev venv (editable): libcli --help": (dev_libcli_cmd() + ["--help"], env),
    }
    out = {name: summary(t) for name, t in in_rounds(cases, runs, log).items()}
    for name in cases:
        log(f"  {name:34s} median {out[name]['median'] * 1000:6.1f} ms")
    return out


def in_rounds(cases: dict[str, tuple[list[str], dict]], runs: int, log) -> dict[str, list[float]]:
    """Wall seconds of every case (name: (argv, env)), run in rounds: round k
    runs every case once, starting at a rotated place, so the machine's drift
    (its speed wanders over minutes) and a case's place in the round hit all
    cases alike. Each case runs once unmeasured first (page cache, sessions)."""
    for cmd, e in cases.values():
        run_process(cmd, e)
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for k in range(runs):
        for name in names[k % len(names):] + names[:k % len(names)]:
            cmd, e = cases[name]
            elapsed, code, _, err = run_process(cmd, e)
            if code not in (0, 3):
                log(f"  ! {name} exited {code}: {err.strip()[-300:]}")
            times[name].append(elapsed)
    return times


# The libraries a libcli run stands on (the issue 16 baseline): what libcli
# adds is measured against them imported bare, in the same rounds.
LIBRARIES = "import click, httpx, httpcore, tabulate, selectolax.lexbor, msgspec"


def bench_overhead(servers: dict[str, Server], prof: Profile, runs: int, log,
                   regular: tuple[str, list[str]]) -> dict:
    """`libcli --help`, completion of renew IDs and a warm `libcli loans` over
    the cards of `prof` (the 4-card profile) at L = 0, each in the same rounds
    as `python -c LIBRARIES` on the regular install's python."""
    rpy, rcmd = regular
    env = prof.env
    set_latency(servers, 0)
    cases = {
        f"python -c '{LIBRARIES}'": ([rpy, "-c", LIBRARIES], env),
        "libcli --help": (rcmd + ["--help"], env),
        "completion (renew IDs)": (rcmd, completion_env(env)),
        "libcli loans, warm, 4 cards, L=0": (rcmd + ["loans"], env),
    }
    times = in_rounds(cases, runs, log)
    baseline, *measured = cases
    out = {"baseline": {"name": baseline, "times": times[baseline]} | summary(times[baseline]),
           "cases": {name: {"times": times[name]} | summary(times[name]) for name in measured},
           # Only `loans` writes the stats file: its last run's requests (warm: one per card).
           "loans_requests": (prof.last_stats() or {}).get("total")}
    for name, s in out["cases"].items():
        log(f"  {name:34s} median {s['median'] * 1000:6.1f} ms, adds "
            f"{(s['median'] - out['baseline']['median']) * 1000:5.1f} ms over its libraries "
            f"({out['baseline']['median'] * 1000:.1f} ms)")
    return out


def import_profile(python: str, cmd_env: dict, argv: list[str], top: int = 12) -> dict:
    """`python -X importtime` of a libcli command: top modules by cumulative time."""
    code = ("import sys; sys.argv = ['libcli'] + %r\n"
            "from libcli.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n") % (argv,)
    p = subprocess.run([python, "-X", "importtime", "-c", code], env=cmd_env,
                       capture_output=True, text=True)
    entries = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            entries.append((m[4], int(m[1]), int(m[2]), len(m[3]) // 2))
    roots = [e for e in entries if e[3] == 0]
    total = sum(e[2] for e in roots)
    loaded = {e[0] for e in entries}
    heavy = [h for h in HEAVY if h in loaded]
    top_roots = sorted(roots, key=lambda e: -e[2])[:top]
    return {"total_us": total, "modules": len(entries), "heavy_imported": heavy,
            "top": [{"module": m, "self_us": s, "cumulative_us": c} for m, s, c, _ in top_roots]}


def bench_parsing(log, runs: int, python: str, workdir: Path, processes: int = 5) -> dict:
    """The Finna and WebPAC loan-page parsers on real demo pages with 100 loans,
    timed by bench/parse_timing.py in fresh processes of the regular install."""
    import asyncio

    import httpx

    from libcli.sandbox.app import create_app
    from libcli.sandbox.circulation import Clock
    from libcli.sandbox.seed import BIG_CARD, BIG_PIN, build_library
    from libcli.sandbox.store import Store

    sys.path.insert(0, str(HERE))
    from server import add_patron_with_loans  # noqa: E402

    async def finna_page() -> str:
        lib = build_library("helmet", Clock())
        add_patron_with_loans(lib, "81000001", 100, "3000001")
        import libcli.sandbox.finna_face as face

        from libcli.backends.finna import FinnaBackend
        from libcli.http import make_client
        from libcli.model import Card
        from libcli.policy import consortia

        old = face.PAGE_SIZE
        face.PAGE_SIZE = 100  # one page holding all 100 loans
        try:
            app = create_app("helmet", library=lib, store=Store(None))
            async with make_client("http://127.0.0.1:8000",
                                   transport=httpx.ASGITransport(app=app)) as c:
                card = Card(name="big", library="helmet", number="81000001")
                backend = FinnaBackend(card, consortia()["helmet"], client=c, pin=lambda: "9999")
                await backend.loans()
                return (await c.get("MyResearch/CheckedOut")).text
        finally:
            face.PAGE_SIZE = old

    async def webpac_page() -> str:
        lib = build_library("tallinn", Clock(), big_loans=100)
        app = create_app("tallinn", library=lib, store=Store(None))
        from libcli.http import make_client

        async with make_client("http://127.0.0.1:8000", transport=httpx.ASGITransport(app=app)) as c:
            from libcli.backends.webpac import WebPACBackend
            from libcli.model import Card
            from libcli.policy import consortia

            card = Card(name="big", library="tallinn", number=BIG_CARD)
            backend = WebPACBackend(card, consortia()["tallinn"], client=c, pin=lambda: BIG_PIN)
            await backend.login()
            return (await c.get(backend._account_url("items"), follow_redirects=True)).text

    out = {}
    pages = {"finna": asyncio.run(finna_page()), "webpac": asyncio.run(webpac_page())}
    per_process = max(1, runs // processes)  # after parse_timing's warm-up
    for kind, text in pages.items():
        page = workdir / f"{kind}-100-loans.html"
        page.write_text(text, encoding="utf-8")
        first, wall, cpu, tree = [], [], [], []
        for _ in range(processes):  # each a fresh process, as a `libcli` run is
            done = subprocess.run([python, str(HERE / "parse_timing.py"), kind, str(page), str(per_process)],
                                  capture_output=True, text=True, check=True,
                                  preexec_fn=pinned(CLIENT_CPUS))
            r = json.loads(done.stdout)
            first.append(r["first_cpu"])
            wall += r["wall"]
            cpu += r["cpu"]
            tree += r["tree_cpu"]
        out[kind] = summary(wall) | {"loans": r["loans"], "page_bytes": r["page_bytes"],
                                     "cpu": summary(cpu), "tree_cpu": summary(tree),
                                     "first_cpu": summary(first)}
        log(f"  {kind:8s} parser: {r['loans']} loans, {len(text) // 1024} KiB: first in a process "
            f"{statistics.median(first) * 1000:.2f} ms; steady CPU median {statistics.median(cpu) * 1000:.2f}, "
            f"min {min(cpu) * 1000:.2f} ms (lexbor alone {min(tree) * 1000:.2f} ms)")
    return out


# --- report ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:.0f}"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "client_cpus": sorted(CLIENT_CPUS),
            "server_cpus": sorted(SERVER_CPUS)}


def cpus_note(data: dict) -> str:
    m = data["machine"]
    if "client_cpus" not in m:
        return "not pinned (results from before pinning)"
    if not m["client_cpus"]:
        return "not pinned (one CPU, or not Linux)"
    return f"libcli on CPU {m['client_cpus']}, the servers on CPU {m['server_cpus']}"


SECTIONS = ("commands", "memory", "startup", "overhead", "imports", "parsing")


def reanalysed(data: dict) -> dict:
    """Raw results read back from JSON (string keys), analysed as now defined."""
    for name, by_lat in data.get("commands", {}).items():
        if name in SCENARIOS:  # the ideal as defined now
            for cell in by_lat.values():
                cell["ideal_rt"] = SCENARIOS[name][2]
    if "commands" in data:
        data["analysis"] = analyse(data["commands"])
    data["latencies"] = [int(x) for x in data["latencies"]]
    return data


def merge_results(base: dict, new: dict) -> dict:
    """`base` with the sections `new` measured replaced; each section keeps
    the date it was measured on (the report lists them)."""
    dates = base.get("section_dates") or {k: base["date"] for k in SECTIONS if k in base}
    out = dict(base)
    for key in SECTIONS:
        if key in new:
            out[key] = new[key]
            dates[key] = new["date"]
    if "commands" in new:
        out.update({k: new[k] for k in ("analysis", "runs", "latencies", "quick", "commands_baseline")
                    if k in new})
    out["section_dates"] = dates
    out["date"] = new["date"]
    out["argv"] = new.get("argv")
    out["elapsed_s"] = new.get("elapsed_s")
    return out


def write_report(data: dict, path: Path) -> None:
    m = data["machine"]
    L = []
    w = L.append
    w("# libcli benchmark results\n")
    # A run that chose its sections, scenarios or runs says so (older raw results: --quick only).
    args = data.get("argv", ["--quick"] if data["quick"] else [])
    w(f"Generated by `python bench/run.py{''.join(' ' + shlex.quote(a) for a in args)}` on "
      f"{data['date']}. Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, "
      f"{m['platform']}. Raw numbers: `bench/out/`.\n")
    if len(set(data.get("section_dates", {}).values())) > 1:
        w("Sections measured at different times (`--merge`): " + "; ".join(
            f"{k} {v}" for k, v in data["section_dates"].items()) + ".\n")
    w("Whole `libcli` processes against the demo library on 127.0.0.1 (one server process "
      "per view; " + cpus_note(data) + "), the latency L added by the server to "
      "every answer, after handling the request (see bench/server.py). *Local* is the median "
      "at 0 ms added latency (Python start-up, imports, parsing, rendering, plus the "
      "loopback requests themselves); *network* is median(L) − local; *RT* is network / L, "
      "the critical path in round trips; *ratio* is network / (ideal RT × L), target ≤ 1.15. "
      f"{data['runs']} runs per cell; spread is min–max.\n")
    if "commands" in data:
        lats = data["latencies"]
        w("## Commands\n")
        w("Each latency cell: median ms of the whole process / network part ms / critical "
          "path in round trips / **ratio** (from medians) · ratio from minima · ratio from the "
          "in-process run time. Local: median wall ms (min–max) and median CPU ms of the "
          "process at 0 ms.\n")
        if "commands_baseline" in data:
            b = data["commands_baseline"]
            w(f"The machine's speed during these runs: `python -c 'import click'`, run once with "
              f"every round, took a median of {b['median'] * 1000:.1f} ms "
              f"({b['min'] * 1000:.1f}–{b['max'] * 1000:.1f}, {b['n']} runs).\n")
        head = "| command | ideal RT | requests | local ms (min–max), CPU | " + " | ".join(
            f"L={lat} ms" for lat in lats if lat) + " |"
        w(head)
        w("|" + "---|" * (4 + sum(1 for lat in lats if lat)))
        for name, by_lat in data["commands"].items():
            a = data["analysis"].get(name)
            if not a:
                continue
            by_lat = {int(k): v for k, v in by_lat.items()}
            r0 = by_lat[0]
            req = r0["requests"][-1]
            sreq = r0["server_requests"][-1]
            cells = []
            for lat in lats:
                if not lat:
                    continue
                r = by_lat[lat]
                b = a["by_latency"][lat]
                rr = f"{b['ratio_run']:.2f}" if b.get("ratio_run") is not None else "–"
                cells.append(f"{ms(r['median'])} / {ms(b['network'])} / {b['round_trips']:.2f} / "
                             f"**{b['ratio']:.2f}** · {b.get('ratio_min', float('nan')):.2f} · {rr}")
            cpu = f", {ms(a['local_cpu'])}" if a.get("local_cpu") is not None else ""
            w(f"| {name} | {r0['ideal_rt']} | {req} (server {sreq}) | {ms(r0['median'])} "
              f"({ms(r0['min'])}–{ms(r0['max'])}){cpu} | " + " | ".join(cells) + " |")
        w("")
    if "memory" in data:
        mem = data["memory"]
        w("## Memory\n")
        w(f"Peak RSS of `libcli status` over 10 cards × 100 loans (warm, L=0): median "
          f"**{mem['median_mib']:.1f} MiB** (min {mem['min_mib']:.1f}, max {mem['max_mib']:.1f}; "
          f"{mem['n']} runs; wait4() rusage of the child). Target ≤ 60 MB.\n")
    if "startup" in data:
        w("## Start-up\n")
        w("| process | median ms | min–max ms | runs |")
        w("|---|---|---|---|")
        for name, s in data["startup"].items():
            w(f"| `{name}` | {s['median'] * 1000:.1f} | {s['min'] * 1000:.1f}–{s['max'] * 1000:.1f} | {s['n']} |")
        w("")
    if "overhead" in data:
        o = data["overhead"]
        b = o["baseline"]
        w("## What libcli adds over its libraries\n")
        w(f"Each libcli process is run in the same rounds as the bare libraries it stands on, "
          f"`{b['name']}` on the same (regular) install: round k runs every process once, "
          f"in a rotated order, so a slow spell of the machine hits both alike. The warm "
          f"`loans` reads the 4-card profile's cards (a live session each, no added latency; "
          f"{o.get('loans_requests', '?')} requests a run). "
          f"*Adds* is median(libcli) − median(libraries), then the median of the per-round "
          f"differences; *ratio* is median(libcli) / median(libraries). A process that imports "
          f"less than all of these libraries (`--help` and completion need few of them) can "
          f"take less than the baseline: a negative difference.\n")
        w("| process | median ms (min–max) | libraries, median ms (min–max), same rounds "
          "| libcli adds, ms (medians · per round) | ratio | rounds |")
        w("|---|---|---|---|---|---|")
        for name, s in o["cases"].items():
            per_round = statistics.median(x - y for x, y in zip(s["times"], b["times"]))
            w(f"| `{name}` | {s['median'] * 1000:.1f} ({s['min'] * 1000:.1f}–{s['max'] * 1000:.1f}) "
              f"| {b['median'] * 1000:.1f} ({b['min'] * 1000:.1f}–{b['max'] * 1000:.1f}) "
              f"| **{(s['median'] - b['median']) * 1000:.1f}** · {per_round * 1000:.1f} "
              f"| {s['median'] / b['median']:.2f} | {s['n']} |")
        w("")
        w("libcli adds " + ", ".join(f"{(s['median'] - b['median']) * 1000:.0f} ms to `{name}`"
                                     for name, s in o["cases"].items()) + " over its libraries.\n")
    if "imports" in data:
        w("## Import profiles (`python -X importtime`)\n")
        for name, prof in data["imports"].items():
            w(f"**`libcli {name}`**: {prof['modules']} modules, top-level imports "
              f"{prof['total_us'] / 1000:.1f} ms cumulative; heavy modules imported: "
              f"{', '.join(prof['heavy_imported']) or 'none'}.\n")
            w("| module | cumulative ms | self ms |")
            w("|---|---|---|")
            for t in prof["top"]:
                w(f"| {t['module']} | {t['cumulative_us'] / 1000:.1f} | {t['self_us'] / 1000:.1f} |")
            w("")
    if "parsing" in data:
        w("## Parsing a page of 100 loans\n")
        w("This thread's CPU time (`time.thread_time`, robust to other load) of parsing one "
          "page, in fresh processes of the regular install (bench/parse_timing.py): the first "
          "parse in a process (patterns compiled, caches cold, the tree's memory new to the process), "
          "then the steady state after ten "
          "more, timed in turns with *lexbor alone* building the tree of the same page.\n")
        w("| parser | loans | page KiB | first in a process, median ms | steady CPU median ms "
          "| steady CPU min ms | lexbor alone, min ms | runs |")
        w("|---|---|---|---|---|---|---|---|")
        for kind, s in data["parsing"].items():
            first = f"{s['first_cpu']['median'] * 1000:.2f}" if "first_cpu" in s else "–"
            w(f"| {kind} | {s['loans']} | {s['page_bytes'] / 1024:.0f} | {first} | "
              f"{s['cpu']['median'] * 1000:.2f} | {s['cpu']['min'] * 1000:.2f} "
              f"| {s['tree_cpu']['min'] * 1000:.2f} | {s['n']} |")
        w("")
    notes = path.with_name("NOTES.md")
    if notes.exists():
        w(notes.read_text())
    path.write_text("\n".join(L) + "\n")


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs and latencies (~3 minutes)")
    ap.add_argument("--runs", type=int, help="runs per command and latency")
    ap.add_argument("--latencies", help="comma-separated ms (default 0,50,100,200; quick 0,100)")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--scenarios", help="regex selecting command scenarios")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="only write the report again from a raw results file")
    ap.add_argument("--merge", type=Path, metavar="JSON",
                    help="keep the sections of this earlier raw results file that this run "
                         "does not measure (e.g. re-measure start-up after a noisy spell)")
    ap.add_argument("--no-pin", action="store_true",
                    help="let libcli and the demo servers share every CPU (for comparison)")
    args = ap.parse_args(argv)
    if args.no_pin:
        CLIENT_CPUS.clear()
        SERVER_CPUS.clear()
    if args.report:
        write_report(reanalysed(json.loads(args.report.read_text())), args.out)
        return 0
    runs = args.runs or (3 if args.quick else 7)
    lats = [int(x) for x in (args.latencies or ("0,100" if args.quick else "0,50,100,200")).split(",")]
    if 0 not in lats:
        lats.insert(0, 0)
    sections = set((args.only or ",".join(SECTIONS)).split(","))
    if unknown := sections - set(SECTIONS):
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    scenarios = [s for s in SCENARIOS if not args.scenarios or re.search(args.scenarios, s)]

    def log(msg: str) -> None:
        print(msg, flush=True)

    data: dict = {"machine": machine(), "quick": args.quick, "runs": runs, "latencies": lats,
                  "argv": sys.argv[1:] if argv is None else argv,
                  "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    started = time.monotonic()
    OUT.mkdir(exist_ok=True)
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="libcli-bench-")))
        keyring_home = root / "xdg-data"
        keyring_home.mkdir()
        regular = regular_install(root)
        _LIBCLI[:] = regular[1]
        _PYTHON[:] = [regular[0]]
        servers: dict[str, Server] = {}
        stack.callback(lambda: [s.stop() for s in servers.values()])
        need_servers = bool(sections & {"commands", "memory", "overhead", "imports"})  # a warm loans
        if need_servers:
            log("starting the demo library (4 views)")
            big = {"heili": 3, "tuni": 3, "helmet": 2, "tallinn": 2}
            for view in VIEWS:
                servers[view] = Server(view, big=big[view], renew=1)
            demo = {v: [(n, p) for n, p, loans in s.cards if loans is None] for v, s in servers.items()}
            bigc = {v: [(n, p) for n, p, loans in s.cards if loans == 100] for v, s in servers.items()}
            renew = {v: [(n, p) for n, p, loans in s.cards if loans == 20] for v, s in servers.items()}
            layout = {
                "c1": [("helmet", *demo["helmet"][0])],
                "c4": [(v, *demo[v][0]) for v in VIEWS],
                "c10": [(v, n, p) for v in VIEWS for n, p in demo[v]],
                "big10": [(v, n, p) for v in VIEWS for n, p in bigc[v]],
                "renew1": [("helmet", *renew["helmet"][0])],
                "renew4": [(v, *renew[v][0]) for v in VIEWS],
            }
            profiles = {}
            for pname, cards in layout.items():
                prof = profiles[pname] = Profile(root, pname, keyring_home)
                for view, number, pin in cards:
                    prof.add(servers[view], number, pin)
            log("cards: " + ", ".join(f"{k}={len(v.cards)}" for k, v in profiles.items()))
        if "commands" in sections:
            log(f"commands: {runs} runs at {lats} ms")
            data["commands"], data["commands_baseline"] = bench_commands(
                servers, profiles, lats, runs, scenarios, log)
            data["analysis"] = analyse(data["commands"])
            set_latency(servers, 0)
        if "memory" in sections:
            log("memory: libcli status, 10 cards x 100 loans")
            set_latency(servers, 0)
            prof = profiles["big10"]
            run_process(libcli_cmd() + ["status"], prof.env)
            rss = [run_process(libcli_cmd() + ["status"], prof.env)[2] / 1024 for _ in range(max(3, runs))]
            data["memory"] = {"median_mib": statistics.median(rss), "min_mib": min(rss),
                              "max_mib": max(rss), "n": len(rss)}
            log(f"  peak RSS median {data['memory']['median_mib']:.1f} MiB")
        if "overhead" in sections:
            log(f"what libcli adds over its libraries ({LIBRARIES})")
            data["overhead"] = bench_overhead(servers, profiles["c4"], 20 if args.quick else 40, log, regular)
        if sections & {"startup", "imports"}:
            # A profile with 4 cards and a snapshot for completion, no servers needed.
            env = Profile(root, "startup", keyring_home).env
            if profiles_exist := (need_servers and "c4" in locals().get("profiles", {})):
                env = profiles["c4"].env
                set_latency(servers, 0)
                run_process(libcli_cmd() + ["loans"], env)  # warm: a session for every card
            if "startup" in sections:
                log("start-up")
                data["startup"] = bench_startup(env, 20 if args.quick else 40, log, regular)
            if "imports" in sections:
                log("import profiles")
                data["imports"] = {}
                for name, argv_ in (("--version", ["--version"]), ("--help", ["--help"]),
                                    ("loans (warm, 4 cards)", ["loans"])):
                    data["imports"][name] = import_profile(regular[0], env, argv_)
                data["imports"]["completion"] = import_profile(regular[0], completion_env(env), [])
                for name, prof in data["imports"].items():
                    log(f"  {name:24s} {prof['total_us'] / 1000:6.1f} ms, heavy: {prof['heavy_imported']}")
            del profiles_exist
        if "parsing" in sections:
            log("parsing")
            data["parsing"] = bench_parsing(log, 50 if args.quick else 200, regular[0], root)
    data["elapsed_s"] = time.monotonic() - started
    if args.merge:
        data = reanalysed(json.loads(json.dumps(
            merge_results(json.loads(args.merge.read_text()), data), default=str)))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (OUT / f"results-{stamp}.json").write_text(json.dumps(data, indent=1, default=str))
    write_report(data, args.out)
    log(f"done in {data['elapsed_s']:.0f} s: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
