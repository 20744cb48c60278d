"""The HTTP rules every backend shares.

- TLS verification is always on; plain http is refused except to loopback.
- Reads (GET) are retried a bounded number of times with backoff; posts that
  change an account are never retried here: after an unclear outcome the
  backend re-reads the account instead.
- Redirects are followed by hand so that no request, least of all a login
  post, leaves the library's host.
- Pages are capped in size; a hostile page cannot exhaust memory.
- Transport failures become `Unreachable` (exit 5), naming the host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from libcli.errors import Unreachable, UnsafeAddress

log = logging.getLogger("libcli.http")

MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 8
READ_RETRIES = 3
BACKOFF_SECONDS = 0.2
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
USER_AGENT = "libcli (+https://github.com/libcli/libcli)"


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Refuse addresses libcli must not use; return the URL unchanged."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return url
    if parts.scheme == "http":
        raise UnsafeAddress(
            f"refusing plain http to {parts.hostname}: only https is allowed "
            "(http only to this machine, for the demo library)"
        )
    raise UnsafeAddress(f"refusing the address {url!r}: not an https URL")


def same_site(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def make_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    cookies: Mapping[str, str] | httpx.Cookies | None = None,
) -> httpx.AsyncClient:
    """One client per card: its own cookie jar, perhaps a shared transport."""
    check_url(base_url)
    if transport is None:
        from libcli.transport import H11Transport

        transport = H11Transport()
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        transport=transport,
        cookies=cookies,
        timeout=TIMEOUT,
        follow_redirects=False,
        verify=True,  # never switched off; there is deliberately no option
        headers={"User-Agent": USER_AGENT},
    )


class Page:
    """A fetched page: final URL, status, text, and where it redirected to."""

    def __init__(self, url: str, status: int, text: str, headers: httpx.Headers,
                 history: list[str]):
        self.url = url
        self.status = status
        self.text = text
        self.headers = headers
        self.history = history

    def __repr__(self) -> str:
        return f"<Page {self.status} {self.url}>"


async def _read_capped(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            raise Unreachable(
                f"{response.url.host} sent a page larger than {MAX_PAGE_BYTES // 1024 // 1024} MiB; "
                "refusing to read it"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, headers: httpx.Headers) -> str:
    """Decode by the HTTP header, then the meta tag, then UTF-8 with fallback."""
    import re

    charset = None
    ctype = headers.get("content-type", "")
    m = re.search(r"charset=([\w.-]+)", ctype, re.I)
    if m:
        charset = m.group(1)
    else:
        m = re.search(rb"<meta[^>]+charset=[\"']?([\w.-]+)", body[:4096], re.I)
        if m:
            charset = m.group(1).decode("ascii", "replace")
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    data: Any = None,
    json: Any = None,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    follow: bool = True,
    retries: int | None = None,
) -> Page:
    """Send one request (following same-host redirects) and read the page.

    GETs are retried on transport errors and 5xx answers; other methods are
    sent once. A redirect off the library's host is refused, so a login post
    can never be replayed elsewhere.
    """
    idempotent = method.upper() in ("GET", "HEAD")
    attempts = 1 + (READ_RETRIES if retries is None else retries) if idempotent else 1
    base = str(client.base_url)
    target = str(client.base_url.join(url)) if not url.startswith(("http://", "https://")) else url
    check_url(target)
    if not same_site(target, base):
        raise UnsafeAddress(f"refusing to send a request to {urlsplit(target).hostname}: "
                            "not the library's host")
    last_error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(BACKOFF_SECONDS * (2 ** (attempt - 1)))
        try:
            return await _send(client, method, target, data=data, json=json, params=params,
                               headers=headers, follow=follow)
        except _Retryable as exc:
            last_error = exc.cause
            log.debug("retrying %s %s after %s", method, urlsplit(target).path, exc.cause)
    host = urlsplit(target).hostname
    raise Unreachable(f"{host} did not answer: {_describe(last_error)}") from None


class _Retryable(Exception):
    def __init__(self, cause: Exception):
        self.cause = cause


def _describe(exc: Exception | None) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        # TLS verification is never switched off: say why, so nobody looks for a switch.
        return "its TLS certificate is not trusted (certificate verify failed)"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return type(exc).__name__.replace("Error", " error").lower().strip()
    return str(exc) if exc else "no answer"


def _build(client, method, url, data, params, json=None, headers=None) -> httpx.Request:
    # Forms repeat and order their fields (renewSelectedIDS[] ...): a list of
    # pairs is sent as such, which httpx's `data=` does not do for lists.
    if isinstance(data, (list, tuple)):
        from urllib.parse import urlencode

        return client.build_request(
            method, url, params=params, content=urlencode(list(data)).encode(),
            headers={**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"},
        )
    return client.build_request(method, url, data=data, json=json, params=params, headers=headers)


async def _send(client, method, url, *, data, params, follow, json=None, headers=None) -> Page:
    import time

    history: list[str] = []
    # The first request's method decides: a POST whose redirect follow-up GET
    # fails must not be sent again (request() would repeat the POST).
    retryable = method.upper() in ("GET", "HEAD")
    for _ in range(MAX_REDIRECTS + 1):
        started = time.perf_counter()
        try:
            req = _build(client, method, url, data, params, json, headers)
            response = await client.send(req, stream=True)
            # The path only: queries and form bodies may carry card numbers.
            log.debug("%s %s%s -> %d (%.0f ms)", method, urlsplit(url).hostname,
                      urlsplit(url).path, response.status_code,
                      (time.perf_counter() - started) * 1000)
        except httpx.TransportError as exc:
            if retryable:
                raise _Retryable(exc) from exc
            if isinstance(exc, httpx.ConnectError):
                # No connection, so nothing was sent: the outcome is known.
                raise Unreachable(f"could not connect to {urlsplit(url).hostname} "
                                  f"({_describe(exc)}); nothing was sent") from None
            raise Unreachable(
                f"{urlsplit(url).hostname} did not answer the {method} "
                f"({_describe(exc)}); the outcome is unknown"
            ) from None
        try:
            if response.status_code >= 500 or response.status_code == 429:
                err = httpx.HTTPStatusError("server error", request=req, response=response)
                if retryable:
                    raise _Retryable(err)
                raise Unreachable(
                    f"{urlsplit(url).hostname} answered HTTP {response.status_code} "
                    f"to the {method}; the outcome is unknown"
                )
            if follow and response.is_redirect and "location" in response.headers:
                location = urljoin(url, response.headers["location"])
                if not same_site(location, url):
                    raise UnsafeAddress(
                        f"the library redirected to another host ({urlsplit(location).hostname}); "
                        "libcli does not follow it"
                    )
                check_url(location)
                try:
                    # Read the (small) body to its end so the connection goes back
                    # to the pool: the next request then needs no new TCP and TLS
                    # handshake, which costs two round trips to a real library.
                    await _read_capped(response)
                except (httpx.TransportError, Unreachable):
                    pass  # the connection is dropped; the follow-up opens a new one
                history.append(url)
                url = location
                # 301/302/303 after a POST become a GET, as browsers do.
                if response.status_code in (301, 302, 303):
                    method, data, json = "GET", None, None
                params = None
                continue
            try:
                body = await _read_capped(response)
            except httpx.TransportError as exc:
                if retryable:
                    raise _Retryable(exc) from exc
                raise Unreachable(
                    f"{urlsplit(url).hostname} dropped the answer to the {method}; "
                    "the outcome is unknown"
                ) from None
            return Page(str(response.url), response.status_code, decode(body, response.headers),
                        response.headers, history)
        finally:
            await response.aclose()
    raise Unreachable(f"{urlsplit(url).hostname} redirected more than {MAX_REDIRECTS} times")
