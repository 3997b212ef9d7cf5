"""The SSRF guard, table-driven: every special-purpose address in every spelling is refused
with a reason, public addresses pass, and an allowed network opens exactly itself."""

from __future__ import annotations

import pytest

from adapters.webhooks.address_guard import AddressGuard
from application.errors import WebhookUrlRefusedError

NAMES = {
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
    "rebind.example": ["127.0.0.2"],
    "mixed.example": ["93.184.216.34", "10.1.2.3"],  # one bad address spoils the name
    "metadata.example": ["169.254.169.254"],
    "localhost": ["127.0.0.1", "::1"],
}


def resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError("unknown host")
    return NAMES[host]


REFUSED = [
    # (url, words the reason holds)
    ("http://127.0.0.2/", "loopback"),
    ("http://127.255.255.254:8080/x", "loopback"),
    ("http://2130706434/", "loopback"),  # 127.0.0.2, one decimal number
    ("http://0x7f.2/", "loopback"),
    ("http://0x7f000002/", "loopback"),
    ("http://017700000002/", "loopback"),  # octal
    ("http://0177.0.0.2/", "loopback"),
    ("http://127.2/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.2]/", "loopback"),  # IPv4-mapped
    ("http://[::ffff:7f00:2]/", "loopback"),
    ("http://[64:ff9b::7f00:2]/", "loopback"),  # NAT64 of 127.0.0.2
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
    ("http://[64:ff9b:1::1]/", "NAT64"),
    ("http://[2002:7f00:2::]/", "loopback"),  # 6to4 of 127.0.0.2
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://100.127.255.254/", "CGNAT"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://192.0.2.10/", "address"),  # documentation (TEST-NET-1)
    ("http://198.18.0.1/", "address"),  # benchmarking
    ("http://[2001:db8::1]/", "address"),  # documentation
    ("http://[2001::1]/", "address"),  # Teredo
    ("http://rebind.example/", "loopback"),
    ("http://mixed.example/", "private"),
    ("http://metadata.example/", "link-local"),
    ("http://localhost:8000/", "loopback"),
    ("http://nowhere.example/", "does not resolve"),
    ("ftp://public.example/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://public.example/", "scheme"),
    ("http://user:pass@public.example/", "credentials"),
    ("http:///path-only", "no host"),
    ("http://public.example:99999/", "malformed"),
    ("http://0x7g.1/", "resolve"),
]

ALLOWED = [
    "http://public.example/hook",
    "https://public.example:8443/hook?x=1",
    "https://public6.example/",
    "http://93.184.216.34/",
    "http://[2606:2800:220:1:248:1893:25c8:1946]/",
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refuses_special_purpose_addresses_in_every_spelling(url: str, reason: str) -> None:
    guard = AddressGuard(resolver=resolver)
    with pytest.raises(WebhookUrlRefusedError) as refused:
        guard.check(url)
    assert refused.value.code == "webhook_url_refused"
    assert reason in refused.value.reason, refused.value.reason


@pytest.mark.parametrize("url", ALLOWED)
def test_allows_public_addresses(url: str) -> None:
    AddressGuard(resolver=resolver).check(url)


def test_an_allowed_network_opens_exactly_itself() -> None:
    guard = AddressGuard(["127.0.0.1/32"], resolver=resolver)
    guard.check("http://127.0.0.1:9/")
    guard.check("http://2130706433/")  # 127.0.0.1 spelled as one number
    guard.check("http://[::ffff:127.0.0.1]/")
    for url in ("http://127.0.0.2/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"):
        with pytest.raises(WebhookUrlRefusedError):
            guard.check(url)


def test_vet_returns_the_addresses_to_connect_to() -> None:
    target = AddressGuard(resolver=resolver).vet("https://public.example:8443/a/b?c=d")
    assert (target.scheme, target.host, target.port) == ("https", "public.example", 8443)
    assert target.target == "/a/b?c=d"
    assert [str(a) for a in target.addresses] == ["93.184.216.34"]
