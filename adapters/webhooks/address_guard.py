"""The SSRF guard of outbound webhooks: which URLs may be called, and at which addresses.

A URL is allowed when it is http(s), carries no credentials, and its host (a name, or an
address in any of its spellings: `127.0.0.1`, `2130706433`, `0x7f.1`, `017700000001`,
`[::ffff:127.0.0.1]`, NAT64 `[64:ff9b::7f00:1]`...) resolves only to public unicast
addresses; loopback, private, link-local, CGNAT (100.64/10), multicast, unspecified,
reserved and other special-purpose ranges are refused, unless an allowed network
(configuration) holds the address. IPv6 addresses that embed an IPv4 one (mapped, NAT64,
6to4) are judged by the embedded address too.

`vet()` returns the vetted addresses: the transport connects to those very addresses, so a
name that resolves differently a moment later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from application.errors import WebhookUrlRefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

URL_LENGTH_MAX = 2_000
SCHEMES = {"http": 80, "https": 443}
CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
# The forms inet_aton reads as an IPv4 address (decimal, octal, hex parts; 1 to 4 of them).
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")

Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (TCP), as text."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class VettedTarget:
    """A URL taken apart, with the addresses it may be connected to."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[IPAddress, ...]


def refused_reason(address: IPAddress) -> str | None:
    """Why an address may not be called (None: a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refused_reason(embedded)
            return None if reason is None else f"{reason} (embedded in {address})"
        if address in NAT64_LOCAL:
            return "a local-use NAT64 address"
        if address.teredo is not None:
            return "a Teredo address"
    checks = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a multicast address", address.is_multicast),
        ("a link-local address", address.is_link_local),
        ("a CGNAT address", isinstance(address, ipaddress.IPv4Address) and address in CGNAT),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("a site-local address", getattr(address, "is_site_local", False)),
        ("not a public address", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return f"{reason}: {address}"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a resolver would read it (None: a name)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise WebhookUrlRefusedError(f"the host {host!r} is a malformed address") from None
    return None


class AddressGuard:
    """The `UrlGuard` port: refuses what the module says, allows `allow_networks`."""

    def __init__(
        self, allow_networks: Sequence[str] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network.strip(), strict=False)
            for network in allow_networks
            if network.strip()
        )
        self.resolver = resolver

    def check(self, url: str) -> None:
        self.vet(url)

    def vet(self, url: str) -> VettedTarget:
        """The URL's parts and its vetted addresses; raises `WebhookUrlRefusedError`."""
        if len(url) > URL_LENGTH_MAX:
            raise WebhookUrlRefusedError("the URL is too long")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise WebhookUrlRefusedError("the URL is malformed") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise WebhookUrlRefusedError("the scheme must be http or https")
        if parts.username is not None or parts.password is not None:
            raise WebhookUrlRefusedError("the URL must not carry credentials")
        host = (parts.hostname or "").rstrip(".") if parts.hostname != "." else ""
        if not host:
            raise WebhookUrlRefusedError("the URL has no host")
        port = port or SCHEMES[scheme]
        literal = literal_address(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            addresses = self._resolve(host, port)
        for address in addresses:
            self._vet_address(address)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return VettedTarget(scheme, host, port, target, tuple(dict.fromkeys(addresses)))

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            found = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise WebhookUrlRefusedError(f"the host {host!r} does not resolve") from None
        if not found:
            raise WebhookUrlRefusedError(f"the host {host!r} does not resolve")
        addresses: list[IPAddress] = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.partition("%")[0]))
            except ValueError:
                raise WebhookUrlRefusedError(f"the host {host!r} resolves oddly") from None
        return addresses

    def _vet_address(self, address: IPAddress) -> None:
        if self._is_allowed(address):
            return
        reason = refused_reason(address)
        if reason is not None:
            raise WebhookUrlRefusedError(reason)

    def _is_allowed(self, address: IPAddress) -> bool:
        candidates: list[Any] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.allowed
        )
