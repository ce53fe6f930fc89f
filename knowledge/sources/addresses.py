"""The address guard: which URLs and IP addresses the fetcher may connect to.

Only http and https. Loopback, private, link-local, multicast, reserved, unspecified, shared
(CGNAT) and site-local addresses are refused, however they are spelled: dotted quads,
decimal (2130706433), hex (0x7f.1), octal (0177.0.0.1), short forms (127.1), IPv4-mapped,
IPv4-compatible, NAT64, 6to4 and Teredo IPv6. The same rule is applied to every address a
name resolves to, on the address actually connected to (see fetch.py's network backend).
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Collection
from urllib.parse import unquote, urlsplit

from knowledge.errors import AddressNotAllowedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Shared address space (RFC 6598): carrier-grade NAT, never a public web server.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Well-known NAT64 prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Deprecated IPv4-compatible IPv6 (::a.b.c.d).
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
# Names that always mean this machine or its network (RFC 6761, mDNS).
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _parse_ipv4_part(part: str) -> int | None:
    """One part of an IPv4 host as inet_aton and browsers read it (hex, octal or decimal)."""
    if not part:
        return None
    base = 10
    digits = part
    if part[:2] in ("0x", "0X"):
        base, digits = 16, part[2:]
        if not digits:
            return 0
    elif len(part) > 1 and part[0] == "0":
        base, digits = 8, part[1:]
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling a resolver accepts, or None when `host` is a name.

    Raises AddressNotAllowedError for a host that looks numeric but is not a valid address
    (e.g. 256.1.1.1.1), since resolvers disagree on what such hosts mean."""
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]  # one trailing dot is the root label
    if not labels or not _ends_in_number(labels):
        return None
    if len(labels) > 4:
        raise AddressNotAllowedError(f"{host!r} is not a valid address")
    numbers = [_parse_ipv4_part(label) for label in labels]
    if any(n is None for n in numbers):
        raise AddressNotAllowedError(f"{host!r} is not a valid address")
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        raise AddressNotAllowedError(f"{host!r} is not a valid address")
    number = last
    for index, n in enumerate(head):
        number += n << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def normalise_host(host: str) -> str:
    """The host as a resolver sees it: percent-decoded, NFKC (full-width digits), lower-case,
    without brackets or a trailing dot."""
    host = unicodedata.normalize("NFKC", unquote(host)).strip().lower()
    # Ideographic and full-width full stops are dots to IDNA.
    for dot in ("\u3002", "\uff0e", "\uff61"):
        host = host.replace(dot, ".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    return host


def parse_ip_host(host: str) -> IPAddress | None:
    """The IP address a URL host names literally, in any spelling; None for a DNS name."""
    host = normalise_host(host)
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise AddressNotAllowedError(f"{host!r} is not a valid address") from None
    return parse_ipv4_host(host)


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address a transition IPv6 address wraps, with the mechanism's name."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if ip in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _V4_COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why connecting to `ip` is refused, or None for a public address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    wrapped = _embedded_v4(ip)
    if wrapped is not None:
        mechanism, inner = wrapped
        reason = _v4_reason(inner)
        if reason is not None:
            return f"{reason} ({mechanism} {inner})"
        if mechanism in ("IPv4-mapped", "NAT64", "6to4"):
            return None  # a public IPv4 address in an IPv6 spelling
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_site_local:
        return "a site-local address"
    if ip in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _allowed(ip: IPAddress, port: int | None, allowed: Collection[tuple[str, int]]) -> bool:
    if not allowed or port is None:
        return False
    return (str(ip), port) in allowed


def check_ip(
    ip: str | IPAddress,
    allow_private: bool,
    *,
    port: int | None = None,
    allowed: Collection[tuple[str, int]] = (),
) -> None:
    """Raise AddressNotAllowedError unless `ip` may be connected to.

    `allowed` lists (address, port) pairs let through even when private addresses are
    refused (one local test server, say); everything else on a refused range still is."""
    address = ip if not isinstance(ip, str) else parse_ip_host(ip)
    if address is None:
        raise AddressNotAllowedError(f"{ip!r} is not an IP address")
    if allow_private:
        return
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    reason = refusal_reason(address)
    if reason is None or _allowed(address, port, allowed):
        return
    raise AddressNotAllowedError(
        f"refused to connect to {address}: {reason} "
        "(set BRIEF_ALLOW_PRIVATE_ADDRESSES=true to allow local addresses)"
    )


def url_port(url: str) -> int | None:
    """The port a URL connects to (its default when none is written); None when invalid."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(parts.scheme.lower())


def check_url(url: str, allow_private: bool, *, allowed: Collection[tuple[str, int]] = ()) -> None:
    """Raise AddressNotAllowedError unless `url` is http(s) with a host the fetcher may use.

    A host written as an IP address (in any spelling) is checked here, before any connection;
    a DNS name is checked again on every address it resolves to when connecting."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AddressNotAllowedError(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        raise AddressNotAllowedError(f"only http and https URLs can be fetched (got {shown})")
    raw_host = parts.hostname or ""
    if not raw_host:
        raise AddressNotAllowedError("the URL has no host")
    if port is None:
        port = 443 if scheme == "https" else 80
    host = normalise_host(raw_host)
    if not host:
        raise AddressNotAllowedError("the URL has no host")
    ip = parse_ip_host(host)
    if ip is not None:
        check_ip(ip, allow_private, port=port, allowed=allowed)
        return
    if allow_private:
        return
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        raise AddressNotAllowedError(
            f"refused to fetch {host!r}: a local host name "
            "(set BRIEF_ALLOW_PRIVATE_ADDRESSES=true to allow local addresses)"
        )
