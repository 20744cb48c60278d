"""The payment address `pay` prints and opens is judged as a browser reads it
(the WHATWG URL standard, through ada-url), not as urllib does: a table of
hostile addresses, each refused by the one check that `pay` and the Finna
backend share."""

from __future__ import annotations

import pytest

from libcli.backends import finna
from libcli.errors import UnsafeAddress
from libcli.payment import check_payment_url
from libcli.policy import consortia

LIBRARY = "https://heili.finna.fi/"

HOSTILE = [
    # urllib reads these as paytrail.com; a browser goes to evil.example.
    "https://evil.example\\@paytrail.com/pay",
    "https://evil.example\\\\@services.paytrail.com/pay",
    "https:\\\\evil.example\\@paytrail.com/",
    "https://evil.example\\.paytrail.com/pay",
    # user info: shown as paytrail.com to a hurried reader, goes to evil.example
    "https://paytrail.com@evil.example/pay",
    "https://paytrail.com:x@evil.example/pay",
    # and user info on the right host is refused too (phishing shape)
    "https://user:pass@paytrail.com/pay",
    # control, space and invisible characters browsers drop before parsing
    "https://evil.exa\tmple.paytrail.com/pay",
    "https://evil.example\n@paytrail.com/pay",
    " https://paytrail.com/pay",
    "https://paytrail.com/pay\x00",
    "https://pay\u200btrail.com/pay",
    "https://paytrail.com\u202e/pay",
    # percent-encoded dots: a browser decodes them into the host
    "https://paytrail.com%2eevil.example/pay",
    # look-alikes and suffix tricks
    "https://p\u0430ytrail.com/pay",
    "https://paytrail.com.evil.example/pay",
    "https://evilpaytrail.com/pay",
    # other schemes
    "http://services.paytrail.com/pay",
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "https:///nohost",
    "//evil.example/pay",
    "",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_payment_addresses_are_refused(url):
    with pytest.raises(UnsafeAddress) as caught:
        check_payment_url(url, backend_url=LIBRARY, consortium=consortia()["heili"])
    # The refusal does not print the address itself.
    assert url not in caught.value.message or not url


@pytest.mark.parametrize("url", [
    "https://services.paytrail.com/pay/abc",
    "https://PAY.Paytrail.COM/x",
    "https://paytrail.com./pay",
    "https://heili.finna.fi/PaymentProvider/checkout?x=1&y=%40",
])
def test_the_library_and_its_providers_are_allowed(url):
    assert check_payment_url(url, backend_url=LIBRARY, consortium=consortia()["heili"]) == url


@pytest.mark.parametrize("url", ["https://evil.example\\@paytrail.com/pay",
                                 "https://paytrail.com@evil.example/pay",
                                 "https://pay\u200btrail.com/pay"])
def test_the_finna_backend_uses_the_same_check(url):
    # Without the library's address (the backend's own check), the shape rules apply.
    assert finna.check_payment_url is check_payment_url
    with pytest.raises(UnsafeAddress):
        check_payment_url(url)
