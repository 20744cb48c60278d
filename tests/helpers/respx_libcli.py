"""respx for libcli's own transport.

respx patches httpcore by default; libcli's requests go through
`libcli.transport.H11Transport`, which never touches httpcore. This mocker
(respx's documented extension point: a `Mocker` subclass registered by name)
patches that transport too, and is made respx's default, so every
`@respx.mock` test intercepts libcli's requests: an unmatched one fails the
test (assert_all_mocked) instead of reaching the network."""

from __future__ import annotations

import httpx
import respx.mocks
from respx.mocks import HTTPCoreMocker


class LibcliMocker(HTTPCoreMocker):
    name = "libcli"
    targets = HTTPCoreMocker.targets + ["libcli.transport.H11Transport"]

    @classmethod
    def to_httpx_request(cls, **kwargs):
        request = kwargs["request"]
        if isinstance(request, httpx.Request):
            return request
        return super().to_httpx_request(**kwargs)

    @classmethod
    async def prepare_async_request(cls, httpx_request, **kwargs):
        await httpx_request.aread()
        if not isinstance(kwargs["request"], httpx.Request):
            kwargs["request"].stream = httpx_request.stream
        return httpx_request, kwargs

    @classmethod
    async def from_async_httpx_response(cls, httpx_response, target, **kwargs):
        if isinstance(kwargs["request"], httpx.Request):
            return httpx_response
        return cls.from_sync_httpx_response(httpx_response, target, **kwargs)


def install() -> None:
    respx.mocks.DEFAULT_MOCKER = LibcliMocker.name
