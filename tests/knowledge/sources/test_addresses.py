"""The address guard's decisions, made before any connection: pure functions, many spellings."""

from __future__ import annotations

import ipaddress

import pytest

from knowledge.errors import AddressNotAllowedError
from knowledge.sources.addresses import check_ip, check_url, parse_ip_host, refusal_reason

# Every one of these names a loopback, private, link-local, multicast, reserved, shared or
# otherwise local address (or a local name): refused when private addresses are not allowed.
REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/feed.xml",
    "https://user:pass@127.0.0.1:8443/",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",  # decimal
    "http://0x7f000001/",  # hex, one part
    "http://0x7F.1/",  # hex + short form
    "http://0x7f.0x0.0x0.0x1/",
    "http://0177.0.0.1/",  # octal
    "http://0177.1/",
    "http://017700000001/",  # octal, one part
    "http://127.000.000.001/",
    "http://127.0.0.1./",  # trailing dot
    "http://%31%32%37.0.0.1/",  # percent-encoded
    "http://１２７.０.０.１/",  # full-width digits (NFKC)
    "http://127。0。0。1/",  # ideographic full stops
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://10.1/",
    "http://167772161/",  # 10.0.0.1 in decimal
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://0xc0.0xa8.1.1/",
    "http://[::ffff:192.168.1.1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://0xa9fea9fe/",  # the same, in hex
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",  # with a zone id
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://100.127.255.254/",
    "http://224.0.0.1/",  # multicast
    "http://239.255.255.250/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://192.0.2.1/",  # documentation
    "http://198.18.0.1/",  # benchmarking
    "http://[fc00::1]/",  # unique-local
    "http://[fd12:3456:789a::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[2001:db8::1]/",  # documentation
    "http://localhost/",
    "http://LOCALHOST./",
    "http://localhost:8080/",
    "http://feeds.localhost/",
    "http://printer.local/",
    "http://intranet/",  # a single label resolves through search domains
]

REFUSED_SCHEMES = [
    "file:///etc/passwd",
    "ftp://example.com/feed.xml",
    "gopher://example.com/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "feed://example.com/rss",
    "//example.com/feed.xml",
    "example.com/feed.xml",
    "http:///feed.xml",
    "",
]

INVALID_NUMERIC_HOSTS = [
    "http://256.256.256.256/",
    "http://1.2.3.4.5/",
    "http://0x100000000/",
    "http://1.2.3.09/",
    "http://4294967296/",
    "http://08.0.0.1/",  # 8 is not an octal digit
    "http://[::1::2]/",
]

ALLOWED_URLS = [
    "https://www.example.com/feed.xml",
    "http://example.com:8080/rss",
    "https://feeds.bbci.co.uk/news/world/asia/rss.xml",
    "http://93.184.216.34/",
    "http://1.1.1.1/",
    "http://0x5db8d822/",  # 93.184.216.34 in hex: a public address in a strange spelling
    "http://1572395042/",  # ...and in decimal
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:93.184.216.34]/",  # IPv4-mapped public address
    "http://[2002:5db8:d822::1]/",  # 6to4 of a public address
    "http://8.8.8.8./",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_local_and_private_addresses_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(AddressNotAllowedError) as caught:
        check_url(url, allow_private=False)
    message = str(caught.value)
    assert "refused" in message or "not a valid" in message
    assert caught.value.permanent


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_setting_allows_private_addresses(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", REFUSED_SCHEMES)
def test_only_http_and_https(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(AddressNotAllowedError):
            check_url(url, allow_private=allow)


@pytest.mark.parametrize("url", INVALID_NUMERIC_HOSTS)
def test_numeric_hosts_that_are_not_addresses_are_refused(url: str) -> None:
    with pytest.raises(AddressNotAllowedError, match="not a valid"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_public_addresses_and_names_pass(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x", "0.0.0.0"),
        ("10.0x10.010", "10.16.0.8"),
        ("192.168.257", "192.168.1.1"),
        ("1.2.3.4.", "1.2.3.4"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("１２７.０.０.１", "127.0.0.1"),
        ("example.com", None),
        ("1.example.com", None),
        ("0x7f.example", None),
        ("xn--80ak6aa92e.com", None),
    ],
)
def test_parse_ip_host_reads_hosts_as_resolvers_do(host: str, expected: str | None) -> None:
    parsed = parse_ip_host(host)
    assert (str(parsed) if parsed is not None else None) == expected


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.0.1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "IPv4-mapped"),
        ("64:ff9b::a00:1", "NAT64"),
        ("2002:a00:1::1", "6to4"),
    ],
)
def test_refusal_reasons_name_the_range(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_resolved_addresses_pass(address: str) -> None:
    check_ip(address, allow_private=False)
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "::ffff:127.0.0.1"])
def test_resolved_private_addresses_are_refused_unless_allowed(address: str) -> None:
    with pytest.raises(AddressNotAllowedError, match="BRIEF_ALLOW_PRIVATE_ADDRESSES"):
        check_ip(address, allow_private=False)
    check_ip(address, allow_private=True)


def test_an_allowed_address_and_port_lets_exactly_that_pair_through() -> None:
    allowed = {("127.0.0.1", 8765)}
    check_url("http://127.0.0.1:8765/feed.xml", allow_private=False, allowed=allowed)
    check_ip("127.0.0.1", allow_private=False, port=8765, allowed=allowed)
    for url in (
        "http://127.0.0.1:8766/",
        "http://127.0.0.1/",
        "http://127.0.0.2:8765/",
        "http://[::1]:8765/",
        "http://localhost:8765/",
    ):
        with pytest.raises(AddressNotAllowedError):
            check_url(url, allow_private=False, allowed=allowed)
    with pytest.raises(AddressNotAllowedError):
        check_ip("127.0.0.1", allow_private=False, port=8766, allowed=allowed)
    with pytest.raises(AddressNotAllowedError):
        check_ip("127.0.0.1", allow_private=False, allowed=allowed)  # no port, no exemption
