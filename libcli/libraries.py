"""Libraries the user adds: a library on a system libcli speaks (Finna,
WebPAC, Primo VE) that the registry does not list yet.

They are kept in ``libraries.json`` in the config directory, beside the
cards, and join the registry (:func:`libcli.policy.consortia`) marked
``source: "user"``. No rule is known for them: renewability, counts and the
online-payment minimum come from the library's own pages.

Before one is kept, :func:`check_site` asks the address the one page a site
of that system must have; a URL that does not answer, or answers as another
system, is refused with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from libcli import storage
from libcli.errors import ConfigError, UnsafeAddress, UsageError

BACKENDS = ("finna", "webpac", "primo")
FILE_VERSION = 1
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def libraries_path() -> Path:
    return storage.config_dir() / "libraries.json"


def _read() -> dict[str, dict[str, Any]]:
    data = storage.read_json(libraries_path(), what="libraries file")
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("libraries"), dict):
        raise ConfigError(f"the libraries file {libraries_path()} has an unknown shape; "
                          "it was left untouched")
    return data["libraries"]


def user_libraries() -> dict[str, Any]:
    """The user's libraries as registry entries (Consortium), by id."""
    from libcli.policy import consortium_from

    out = {}
    for lid, entry in _read().items():
        try:
            out[lid] = consortium_from(lid, entry | {"online_payment": {"whole_balance": True}},
                                       source="user")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the library '{lid}' in {libraries_path()} is incomplete "
                              f"({exc}); fix it or remove it with: libcli library remove {lid}"
                              ) from None
    return out


def entry_for(lid: str, *, backend: str, url: str, name: str | None = None,
              login_target: str | None = None, date_order: str | None = None,
              language: str | None = None, view: str | None = None) -> dict[str, Any]:
    """Validate what the user gave; return the entry to keep."""
    from libcli.http import check_url
    from libcli.policy import DATE_ORDERS, consortia

    if not ID_PATTERN.fullmatch(lid):
        raise UsageError(f"'{lid}' is not a usable library id: use lower-case letters, digits, "
                         "'-' and '_' (at most 40)")
    if lid in consortia():
        raise UsageError(f"there is already a library '{lid}' (libcli libraries)")
    if backend not in BACKENDS:
        raise UsageError(f"unknown system '{backend}': one of {', '.join(BACKENDS)}")
    url = url.strip().rstrip("/")
    try:
        check_url(url)  # https only (http only to this machine)
    except UnsafeAddress as exc:
        raise UsageError(exc.message) from None
    if backend == "primo" and not view:
        raise UsageError("a Primo VE library needs its view id: --view INST:VIEW "
                         "(the vid= in the address of its search page)")
    if date_order is not None and date_order not in DATE_ORDERS:
        raise UsageError(f"--date-order must be one of {', '.join(DATE_ORDERS)}")
    entry: dict[str, Any] = {"name": name or lid, "backend": backend, "url": url}
    for key, value in (("login_target", login_target), ("date_order", date_order),
                       ("language", language), ("view", view)):
        if value:
            entry[key] = value
    if view:
        entry["institution"] = view.split(":", 1)[0]
    return entry


def save(lid: str, entry: dict[str, Any]) -> None:
    path = libraries_path()
    with storage.locked(path):
        libraries = _read()
        libraries[lid] = entry
        storage.write_json(path, {"version": FILE_VERSION, "libraries": libraries})


def remove(lid: str) -> None:
    path = libraries_path()
    with storage.locked(path):
        libraries = _read()
        if lid not in libraries:
            raise UsageError(f"no library '{lid}' was added by you (libcli library list)")
        del libraries[lid]
        storage.write_json(path, {"version": FILE_VERSION, "libraries": libraries})


async def check_site(consortium, transport=None) -> None:
    """Ask the site the page its system must have; raise a clear error when it
    does not answer or is not that system (the backend decides what its
    system looks like)."""
    from libcli.backends.base import backend_class
    from libcli.http import make_client
    from libcli.model import Card

    card = Card("check", consortium.id, "")

    def no_pin() -> str:
        raise AssertionError("checking a site never logs in")

    async with make_client(consortium.url, transport=transport) as client:
        backend = backend_class(consortium.backend)(card, consortium, client=client, pin=no_pin)
        await backend.identify()
