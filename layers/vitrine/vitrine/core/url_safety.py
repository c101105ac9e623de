"""Which media URLs vitrine may fetch itself: the address policy of the automatic media retry.

Checking a CRM media URL means vitrine makes an HTTP request to an address a webhook chose. Without
a policy that is server-side request forgery: a URL could point at the Lambda's metadata endpoint
(169.254.169.254), at a VPC-internal service or at loopback. So only ``http``/``https`` is allowed,
and a host is acceptable only if *every* address it resolves to is a public unicast address. The
adapter (``vitrine.adapters.media_probe``) resolves names and applies :func:`address_refusal` to each
answer, and again at each redirect. This module is pure: no sockets, no DNS.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

ALLOWED_SCHEMES: tuple[str, ...] = ("http", "https")
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052) embeds an IPv4 address in the last 32 bits; a gateway would reach that address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Legacy IPv4 spellings that resolvers still accept (``127.1``, ``2130706433``, ``0x7f.0.0.1``,
# ``0177.0.0.1``): never a legitimate media host, and easy to slip past a naive check.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*\.?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class UrlTarget:
    """A URL that passed the syntactic policy: where to connect and what to call the host."""

    url: str
    scheme: str
    host: str
    port: int
    # Set when the host is an IP literal (already checked); None when it must be resolved.
    literal_address: IPAddress | None


class UrlRefused(ValueError):
    """The URL must not be fetched. ``reason`` completes "the URL ..." for the owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated ::a.b.c.d), but not :: and ::1 which are handled as IPv6.
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted (a phrase after "resolves to"), or None when public.

    Order matters only for the wording: the most specific class is named. Anything that is not
    globally routable unicast is refused, including ranges without a named class (shared address
    space 100.64/10, documentation and benchmarking ranges).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return f"a scoped (link-local) address ({address})"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner is not None:
                return inner
            # A public IPv4 behind a translation prefix: still refuse, the mapping is the trick.
            return f"an IPv4-embedding IPv6 address ({address})"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (not address.is_global, "a non-public address"),
    )
    for refused, label in checks:
        if refused:
            return f"{label} ({address})"
    return None


def _parse_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url or len(url) > 8192:
        raise UrlRefused("is not a URL")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UrlRefused("contains spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise UrlRefused(f"is malformed ({exc})") from None
    return parts


def check_url(url: str, *, allow_private: bool = False) -> UrlTarget:
    """Apply the syntactic half of the policy to ``url``; raise :class:`UrlRefused` with the reason.

    An IP-literal host is checked here; a name is returned for the caller to resolve and check
    with :func:`address_refusal` (every address, at connect time). ``allow_private`` (local testing
    only) skips the address classes, never the scheme rule.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused(f"uses {scheme or 'no'} scheme, not http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("has no host")
    port = parts.port if parts.port is not None else DEFAULT_PORTS[scheme]
    if port == 0:
        raise UrlRefused("uses port 0")
    literal = _parse_literal(host)
    if literal is not None:
        if not allow_private:
            refusal = address_refusal(literal)
            if refusal is not None:
                raise UrlRefused(f"points to {refusal}")
        return UrlTarget(url=url, scheme=scheme, host=host, port=port, literal_address=literal)
    if "%" in host or "[" in host or "]" in host:
        raise UrlRefused("has a malformed host")
    if not allow_private:
        lowered = host.lower()
        if _NUMERIC_HOST.match(lowered):
            raise UrlRefused(f"uses an ambiguous numeric host ({host})")
        if lowered == "localhost" or lowered.endswith(".localhost"):
            raise UrlRefused("points to localhost")
    return UrlTarget(url=url, scheme=scheme, host=host, port=port, literal_address=None)


def check_resolved(addresses: list[IPAddress], *, allow_private: bool = False) -> None:
    """Refuse when *any* resolved address is not public (a name with one private answer is refused:
    the connection could be steered to it). Raises :class:`UrlRefused`."""
    if not addresses:
        raise UrlRefused("does not resolve to any address")
    if allow_private:
        return
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None:
            raise UrlRefused(f"resolves to {refusal}")


def parse_address(raw: str) -> IPAddress:
    """An address as a resolver returns it (an IPv6 one may carry a ``%zone``)."""
    return ipaddress.ip_address(raw)
