"""The HTTP rules every backend shares.

- TLS verification is always on; plain http is refused except to loopback.
- Connections go through httpx's own transport: one pool per run, one
  verifying TLS context, and the proxies the environment names
  (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) as httpx reads them.
- Reads (GET) are retried a bounded number of times with backoff; posts that
  change an account are never retried here: after an unclear outcome the
  backend re-reads the account instead.
- Redirects are followed by hand so that no request, least of all a login
  post, leaves the library's host.
- Pages are capped in size as they are decompressed, one layer of
  compression at most; a hostile page cannot exhaust memory.
- Every request has a deadline for the whole exchange, and every client
  (one command) a deadline for all of its requests: a library that trickles
  its answer cannot keep libcli waiting.
- Cookies are capped per site and in size, as browsers do.
- Transport failures become `Unreachable` (exit 5), naming the host.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import time
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpx

from libcli.errors import ConfigError, Unreachable, UnsafeAddress
from libcli.i18n import _

log = logging.getLogger("libcli.http")

MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 8
READ_RETRIES = 3
BACKOFF_SECONDS = 0.2
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# The whole of one request (connecting, sending, headers, body, redirects and
# retries), and the whole of one client's life (a command). The phase timeouts
# above only bound the wait for the next byte: a body trickled at a byte a
# second, or an endless run of "100 Continue", never trips them.
REQUEST_DEADLINE = 60.0
COMMAND_DEADLINE = 180.0
# RFC 6265 section 6.1's minimums, which browsers keep to: 50 cookies per
# domain, 4096 bytes per cookie.
MAX_COOKIES_PER_DOMAIN = 50
MAX_COOKIE_BYTES = 4096
LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=5.0)
USER_AGENT = "libcli (+https://github.com/libcli/libcli)"
# Never routed through a proxy: a proxy cannot reach this machine's loopback.
LOOPBACK_PATTERNS = ("all://localhost", "all://*.localhost", "all://127.0.0.1", "all://[::1]")


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


# --- connections ----------------------------------------------------------------------


class Pool:
    """The connections of one run, shared by every card's client: httpx's
    own transport for direct connections and one per proxy the environment
    names, all on one verifying TLS context (certifi's CAs, or SSL_CERT_FILE /
    SSL_CERT_DIR, as httpx reads them). Hand it to `make_client`."""

    def __init__(self) -> None:
        _close_connections_with_extra_bytes()
        # verify=True, never anything else: there is deliberately no option.
        self.ssl_context = httpx.create_ssl_context(verify=True)
        self.direct = httpx.AsyncHTTPTransport(verify=self.ssl_context, limits=LIMITS)
        self.mounts = _proxy_mounts(self.ssl_context)

    def transports(self) -> list[httpx.AsyncBaseTransport]:
        unique = {id(t): t for t in self.mounts.values() if t is not None}
        return [self.direct, *unique.values()]

    async def aclose(self) -> None:
        for transport in self.transports():
            await transport.aclose()


def _proxy_mounts(ssl_context) -> dict[str, httpx.AsyncBaseTransport | None]:
    """httpx's reading of the environment's proxies, as mounts; httpx builds
    them itself only for a client without a transport of its own, and a run's
    clients share theirs."""
    from httpx._utils import get_environment_proxies

    proxies = get_environment_proxies()
    if not proxies:
        return {}
    by_url: dict[str, httpx.AsyncBaseTransport] = {}
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, url in proxies.items():
        if url is None:  # a NO_PROXY entry
            mounts[pattern] = None
            continue
        if url not in by_url:
            try:
                by_url[url] = httpx.AsyncHTTPTransport(verify=ssl_context, proxy=url,
                                                       limits=LIMITS)
            except ImportError:
                raise ConfigError(
                    f"the environment names a {urlsplit(url).scheme} proxy, which needs the "
                    "socksio package (pip install 'httpx[socks]')") from None
            except ValueError as exc:  # a scheme httpx does not proxy through
                raise ConfigError(f"the environment names a proxy libcli cannot use: {exc}"
                                  ) from None
        mounts[pattern] = by_url[url]
    for pattern in LOOPBACK_PATTERNS:
        mounts.setdefault(pattern, None)
    return mounts


def _close_connections_with_extra_bytes() -> None:
    """A server that sends more than its Content-Length (or anything after
    an answer) leaves bytes that httpcore's HTTP/1.1 connection keeps and
    reads as the answer to the next request on it: a login post would get
    the previous page's leftovers as its answer. httpcore has no setting for
    this; its one method that decides whether a finished connection is kept
    is wrapped so that such a connection is closed instead."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    original = AsyncHTTP11Connection._response_closed
    if getattr(original, "libcli_guard", False):
        return

    async def _response_closed(self) -> None:
        if self._h11_state.trailing_data[0]:
            async with self._state_lock:
                await self.aclose()
            return
        await original(self)

    _response_closed.libcli_guard = True
    AsyncHTTP11Connection._response_closed = _response_closed


class SiteClient(httpx.AsyncClient):
    """httpx's client with the moment (time.monotonic()) after which it
    sends nothing more: the command's deadline."""

    deadline: float | None = None


def make_client(
    base_url: str,
    *,
    transport: httpx.AsyncBaseTransport | Pool | None = None,
    cookies: Mapping[str, str] | httpx.Cookies | CookieJar | None = None,
    deadline: float | None = None,
) -> SiteClient:
    """One client per card: its own cookie jar, perhaps a shared pool.

    Without a transport the client gets a pool of its own (closed with it).
    `deadline` (time.monotonic()) defaults to COMMAND_DEADLINE from now."""
    check_url(base_url)
    if transport is None:
        transport = Pool()
    mounts = None
    if isinstance(transport, Pool):
        transport, mounts = transport.direct, transport.mounts
    client = SiteClient(
        base_url=base_url.rstrip("/") + "/",
        transport=transport,
        mounts=mounts,
        cookies=_capped_jar(cookies),
        timeout=TIMEOUT,
        follow_redirects=False,
        trust_env=False,  # the environment is read once, by Pool
        verify=True,  # never switched off; there is deliberately no option
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": accept_encoding()},
    )
    client.deadline = time.monotonic() + COMMAND_DEADLINE if deadline is None else deadline
    return client


# --- cookies --------------------------------------------------------------------------


def _cookie_bytes(name: str, value: str | None, domain: str, path: str) -> int:
    return len(f"{name}={value or ''}; Domain={domain}; Path={path}".encode("utf-8", "replace"))


def _site(domain: str) -> str:
    return domain.lstrip(".").lower()


class _CookieLimits(DefaultCookiePolicy):
    """Refuses a cookie larger than MAX_COOKIE_BYTES, and a new one for a site
    that already holds MAX_COOKIES_PER_DOMAIN (a cookie replacing one of the
    same name, domain and path is still taken: the session goes on)."""

    def __init__(self) -> None:
        super().__init__()
        self.jar: CookieJar | None = None

    def set_ok(self, cookie: Cookie, request) -> bool:
        if not super().set_ok(cookie, request):
            return False
        if _cookie_bytes(cookie.name, cookie.value, cookie.domain, cookie.path) > MAX_COOKIE_BYTES:
            log.debug("refusing a cookie larger than %d bytes", MAX_COOKIE_BYTES)
            return False
        held = [c for c in self.jar or () if _site(c.domain) == _site(cookie.domain)]
        if len(held) < MAX_COOKIES_PER_DOMAIN or any(
                (c.name, c.domain, c.path) == (cookie.name, cookie.domain, cookie.path)
                for c in held):
            return True
        log.debug("refusing cookie %d for one site", len(held) + 1)
        return False


def _capped_jar(cookies) -> CookieJar:
    policy = _CookieLimits()
    jar = CookieJar(policy)
    policy.jar = jar
    if isinstance(cookies, CookieJar):
        cookies = list(cookies)
    elif isinstance(cookies, httpx.Cookies):
        cookies = list(cookies.jar)
    elif cookies:
        cookies = list(httpx.Cookies(dict(cookies)).jar)
    for cookie in cookies or ():
        jar.set_cookie(cookie)
    return jar


def cookie_records(cookies: Iterable[Any]) -> list[dict[str, Any]]:
    """Cookies (http.cookiejar.Cookie or saved dicts) as the dicts a session
    file holds, within the caps the jar keeps while receiving them and
    without the expired: a session file never grows without bound."""
    now = time.time()
    out, per_site = [], {}
    for c in cookies:
        if isinstance(c, Cookie):
            c = {"name": c.name, "value": c.value, "domain": c.domain, "path": c.path,
                 "expires": c.expires}
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            continue
        record = {"name": c["name"], "value": str(c.get("value") or ""),
                  "domain": str(c.get("domain") or ""), "path": str(c.get("path") or "/"),
                  "expires": c.get("expires") if isinstance(c.get("expires"), int) else None}
        if record["expires"] is not None and record["expires"] <= now:
            continue
        if _cookie_bytes(record["name"], record["value"], record["domain"],
                         record["path"]) > MAX_COOKIE_BYTES:
            continue
        site = _site(record["domain"])
        if per_site.get(site, 0) >= MAX_COOKIES_PER_DOMAIN:
            continue
        per_site[site] = per_site.get(site, 0) + 1
        out.append(record)
    return out


def cookie_jar(records: Iterable[dict[str, Any]]) -> CookieJar:
    """A jar holding saved cookies (see `cookie_records`), for `make_client`."""
    jar = CookieJar()
    for r in cookie_records(records):
        domain = r["domain"]
        jar.set_cookie(Cookie(
            version=0, name=r["name"], value=r["value"], port=None, port_specified=False,
            domain=domain, domain_specified=bool(domain),
            domain_initial_dot=domain.startswith("."), path=r["path"], path_specified=True,
            secure=False, expires=r["expires"], discard=r["expires"] is None, comment=None,
            comment_url=None, rest={}))
    return jar


# --- pages ----------------------------------------------------------------------------


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


def _too_large(host: str) -> Unreachable:
    return Unreachable(f"{host} sent a page larger than {MAX_PAGE_BYTES // 1024 // 1024} MiB; "
                       "refusing to read it")


class _Inflate:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it),
    producing at most `room` bytes more per call."""

    def __init__(self, encoding: str):
        import zlib

        self._zlib = zlib
        self._raw_fallback = encoding == "deflate"
        self._d = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._d.decompress(data, room + 1)
        except self._zlib.error:
            if not self._raw_fallback:
                raise
            self._raw_fallback = False
            self._d = self._zlib.decompressobj(-self._zlib.MAX_WBITS)
            out = self._d.decompress(data, room + 1)
        self._raw_fallback = False
        return out

    def end(self, room: int) -> bytes:
        return self._d.flush()[: room + 1]


class _Brotli:
    def __init__(self, encoding: str):
        import brotli

        self._d = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        return self._d.process(data, output_buffer_limit=room + 1)

    def end(self, room: int) -> bytes:
        return b""


@functools.cache
def _decoders() -> dict[str, type]:
    """The encodings libcli reads, each with a decoder that can stop at a
    size: httpx's own decode a chunk whole, which for a bomb is gigabytes."""
    decoders: dict[str, type] = {"gzip": _Inflate, "x-gzip": _Inflate, "deflate": _Inflate}
    try:
        import brotli

        brotli.Decompressor().process(b"", output_buffer_limit=1)  # brotli >= 1.2
        decoders["br"] = _Brotli
    except (ImportError, TypeError, AttributeError):
        pass
    return decoders


@functools.cache
def accept_encoding() -> str:
    return ", ".join(e for e in _decoders() if e != "x-gzip")


async def _read_page(response: httpx.Response) -> bytes:
    """The body, decompressed as it arrives and cut off at MAX_PAGE_BYTES."""
    host = response.url.host
    encodings = [e.lower() for e in response.headers.get_list("content-encoding", split_commas=True)
                 if e and e.lower() != "identity"]
    if len(encodings) > 1:
        # No site compresses twice; a page that does is a bomb (1.8 KB of
        # gzip, gzip is 2 GB).
        raise Unreachable(f"{host} sent a page compressed more than once "
                          f"({', '.join(encodings)}); refusing to read it")
    decoder = None
    if encodings:
        kind = _decoders().get(encodings[0])
        if kind is None:
            raise Unreachable(f"{host} sent a page in an encoding libcli does not read "
                              f"({encodings[0]}, not asked for)")
        decoder = kind(encodings[0])
    chunks, size = [], 0
    async for raw in response.aiter_raw():
        chunk = _decoded(decoder.feed, raw, MAX_PAGE_BYTES - size, host, encodings) if decoder else raw
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            raise _too_large(host)
        chunks.append(chunk)
    if decoder:
        chunks.append(_decoded(decoder.end, None, MAX_PAGE_BYTES - size, host, encodings))
        if size + len(chunks[-1]) > MAX_PAGE_BYTES:
            raise _too_large(host)
    return b"".join(chunks)


def _decoded(step, data, room: int, host: str, encodings: list[str]) -> bytes:
    try:
        return step(data, room) if data is not None else step(room)
    except Exception:  # zlib.error, brotli.error: the compressed body is damaged
        raise Unreachable(f"{host} sent a damaged {encodings[0]} page") from None


def decode(body: bytes, headers: httpx.Headers) -> str:
    """Decode as the page declares (HTTP header, then meta tag), replacing
    what is invalid. A page declared (or presumed) UTF-8 is read as cp1252
    only when it holds more bytes invalid as UTF-8 than valid UTF-8 letters:
    a Latin-1 page mislabelled, not a UTF-8 page with one bad byte."""
    import codecs
    import re

    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    charset = None
    m = re.search(r"charset=[\"']?([\w.:-]+)", headers.get("content-type", ""), re.I)
    if m:
        charset = m.group(1)
    else:
        m = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.I)
        if m:
            charset = m.group(1).decode("ascii", "replace")
    try:
        codec = codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        codec = "utf-8"
    if codec != "utf-8":
        return body.decode(codec, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd")
    valid = len(re.findall("[^\x00-\x7f\ufffd]", text))
    if invalid > valid:
        return body.decode("cp1252", "replace")
    return text


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
    host = urlsplit(target).hostname
    limit, whole = REQUEST_DEADLINE, False
    deadline = getattr(client, "deadline", None)
    if deadline is not None and deadline - time.monotonic() < limit:
        limit, whole = max(deadline - time.monotonic(), 0.0), True
    timeout = asyncio.timeout(limit)
    try:
        async with timeout:
            return await _attempts(client, method, target, attempts, data=data, json=json,
                                   params=params, headers=headers, follow=follow)
    except TimeoutError:
        if not timeout.expired():
            raise
    waited = (_("the time libcli gives a whole command ran out waiting for it") if whole
              else _("no complete answer within {seconds} s").format(seconds=f"{REQUEST_DEADLINE:g}"))
    outcome = "" if idempotent else _("; the outcome of the {method} is unknown").format(
        method=method.upper())
    raise Unreachable(_("{host} was too slow: {waited}{outcome}").format(
        host=host, waited=waited, outcome=outcome)) from None


async def _attempts(client, method, target, attempts, **kw) -> Page:
    last_error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(BACKOFF_SECONDS * (2 ** (attempt - 1)))
        try:
            return await _send(client, method, target, **kw)
        except _Retryable as exc:
            last_error = exc.cause
            log.debug("retrying %s %s after %s", method, urlsplit(target).path, exc.cause)
    host = urlsplit(target).hostname
    raise Unreachable(_("{host} did not answer: {error}").format(
        host=host, error=_describe(last_error))) from None


class _Retryable(Exception):
    def __init__(self, cause: Exception):
        self.cause = cause


def _describe(exc: Exception | None) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    tls = _tls_failure(exc)
    if tls is not None:
        # TLS verification is never switched off: say why, so nobody looks for a switch.
        return tls
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return type(exc).__name__.replace("Error", " error").lower().strip()
    return str(exc) if exc else "no answer"


def _tls_failure(exc: Exception | None) -> str | None:
    """What a refused certificate was refused for, from the ssl error httpx
    wraps (httpx.ConnectError <- httpcore.ConnectError <- ssl error)."""
    import ssl

    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ssl.SSLCertVerificationError):
            code, reason = exc.verify_code, exc.verify_message or "certificate verify failed"
            if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
                return ("its TLS certificate is for another host name (host name mismatch); "
                        "the address may be wrong")
            if code == 64:  # X509_V_ERR_IP_ADDRESS_MISMATCH
                return ("its TLS certificate is for another address (IP address mismatch); "
                        "the address may be wrong")
            if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
                return "its TLS certificate has expired"
            return f"its TLS certificate is not trusted ({reason})"
        if isinstance(exc, ssl.SSLError):
            return f"the TLS handshake failed ({exc.reason or exc})"
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


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
    history: list[str] = []
    # The first request's method decides: a POST whose redirect follow-up GET
    # fails must not be sent again (request() would repeat the POST).
    retryable = method.upper() in ("GET", "HEAD")
    for _hop in range(MAX_REDIRECTS + 1):
        started = time.perf_counter()
        try:
            req = _build(client, method, url, data, params, json, headers)
            response = await client.send(req, stream=True)
            # The path only: queries and form bodies may carry card numbers.
            log.debug("%s %s%s -> %d (%.0f ms)", method, urlsplit(url).hostname,
                      urlsplit(url).path, response.status_code,
                      (time.perf_counter() - started) * 1000)
        except httpx.TransportError as exc:
            refused = _tls_failure(exc) if isinstance(exc, httpx.ConnectError) else None
            if refused is not None:
                # Asking again gets the same certificate.
                raise Unreachable(_("could not connect to {host} ({error}); nothing was sent").format(
                    host=urlsplit(url).hostname, error=refused)) from None
            if retryable:
                raise _Retryable(exc) from exc
            if isinstance(exc, httpx.ConnectError):
                # No connection, so nothing was sent: the outcome is known.
                raise Unreachable(_("could not connect to {host} ({error}); nothing was sent").format(
                    host=urlsplit(url).hostname, error=_describe(exc))) from None
            raise Unreachable(
                _("{host} did not answer the {method} ({error}); the outcome is unknown").format(
                    host=urlsplit(url).hostname, method=method, error=_describe(exc))
            ) from None
        try:
            if response.status_code >= 500 or response.status_code == 429:
                err = httpx.HTTPStatusError("server error", request=req, response=response)
                if retryable:
                    raise _Retryable(err)
                raise Unreachable(
                    _("{host} answered HTTP {status} to the {method}; the outcome is unknown").format(
                        host=urlsplit(url).hostname, status=response.status_code, method=method)
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
                    await _read_page(response)
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
                body = await _read_page(response)
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
