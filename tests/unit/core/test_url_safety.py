"""The address policy of media URL checks: only public http(s) targets pass."""

from __future__ import annotations

import ipaddress

import pytest

from vitrine.core.url_safety import UrlRefused, address_refusal, check_resolved, check_url

REFUSED_URLS = [
    # loopback, in every spelling a resolver accepts
    ("http://127.0.0.1/photo.jpg", "loopback"),
    ("http://127.8.9.10/photo.jpg", "loopback"),
    ("http://[::1]/photo.jpg", "loopback"),
    ("http://[::ffff:127.0.0.1]/photo.jpg", "loopback"),
    ("http://2130706433/photo.jpg", "numeric host"),
    ("http://0x7f000001/photo.jpg", "numeric host"),
    ("http://127.1/photo.jpg", "numeric host"),
    ("http://0177.0.0.1/photo.jpg", "numeric host"),
    ("http://localhost/photo.jpg", "localhost"),
    ("http://media.localhost./photo.jpg", "localhost"),
    # private networks
    ("http://10.0.0.1/photo.jpg", "private"),
    ("https://172.16.5.4/photo.jpg", "private"),
    ("http://192.168.1.20:8080/photo.jpg", "private"),
    ("http://[fc00::1]/photo.jpg", "private"),
    ("http://[::ffff:10.1.2.3]/photo.jpg", "private"),
    # link-local, the cloud metadata endpoint first
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/photo.jpg", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "private"),
    # multicast, reserved, unspecified, broadcast, shared address space
    ("http://224.0.0.1/photo.jpg", "multicast"),
    ("http://[ff02::1]/photo.jpg", "multicast"),
    ("http://240.0.0.1/photo.jpg", "reserved"),
    ("http://0.0.0.0/photo.jpg", "unspecified"),
    ("http://[::]/photo.jpg", "unspecified"),
    ("http://255.255.255.255/photo.jpg", "reserved"),
    ("http://100.64.0.1/photo.jpg", "non-public"),
    # IPv4 hidden in IPv6 translation prefixes
    ("http://[64:ff9b::7f00:1]/photo.jpg", "loopback"),
    ("http://[2002:a00:1::]/photo.jpg", "private"),
    # schemes and shapes
    ("ftp://media.example.com/photo.jpg", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://media.example.com/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http:///photo.jpg", "no host"),
    ("http://media.example.com:0/photo.jpg", "port 0"),
    ("http://media.example.com:99999/photo.jpg", "malformed"),
    ("http://media.example.com/a photo.jpg", "spaces"),
]


@pytest.mark.parametrize(("url", "expected"), REFUSED_URLS)
def test_refused_urls_say_why(url: str, expected: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url)
    assert expected in refused.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://media.crm.example/listings/ABC-12/photo-1.jpg?w=1600",
        "http://93.184.216.34/photo.jpg",
        "https://8.8.8.8:8443/photo.jpg",
        "http://[2606:4700:4700::1111]/photo.jpg",
    ],
)
def test_public_urls_pass(url: str) -> None:
    target = check_url(url)
    assert target.scheme in ("http", "https")
    assert target.port in (80, 443, 8443)


def test_a_name_is_left_for_resolution() -> None:
    target = check_url("https://media.crm.example/photo.jpg")
    assert (target.host, target.port, target.literal_address) == ("media.crm.example", 443, None)


def test_allow_private_is_for_local_testing_and_keeps_the_scheme_rule() -> None:
    assert check_url("http://127.0.0.1:8000/photo.jpg", allow_private=True).port == 8000
    assert check_url("http://localhost:8000/photo.jpg", allow_private=True).host == "localhost"
    with pytest.raises(UrlRefused):
        check_url("file:///etc/passwd", allow_private=True)


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    addresses = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]
    with pytest.raises(UrlRefused) as refused:
        check_resolved(addresses)
    assert refused.value.reason == "resolves to a private address (10.0.0.7)"


def test_no_address_at_all_is_refused() -> None:
    with pytest.raises(UrlRefused):
        check_resolved([])


@pytest.mark.parametrize(
    "raw", ["93.184.216.34", "8.8.4.4", "2606:4700:4700::1111", "2a00:1450:4007:80e::200e"]
)
def test_public_addresses_have_no_refusal(raw: str) -> None:
    assert address_refusal(ipaddress.ip_address(raw)) is None


@pytest.mark.parametrize(
    "raw", ["192.0.2.10", "198.51.100.1", "203.0.113.9", "198.18.0.1", "2001:db8::1", "::ffff:8.8.8.8"]
)
def test_documentation_benchmark_and_mapped_addresses_are_refused(raw: str) -> None:
    assert address_refusal(ipaddress.ip_address(raw)) is not None
