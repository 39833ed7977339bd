"""Index locations: one spelling per index, no credentials, the right index for a page.

A cached file is served only to a command configured with the index it was
listed on, so these rules decide what is served: two spellings of one index
must meet, two indexes must never merge, and a token must never be stored.
"""

from __future__ import annotations

import re

import pytest

from pipcachefirst.cache.provenance import normalize_location, normalized_set, origin_key, origin_of_page, redact


@pytest.mark.parametrize(
    "spelling",
    [
        "https://pypi.example.org/simple",
        "https://pypi.example.org/simple/",
        "HTTPS://PyPI.Example.ORG/simple/",
        "https://pypi.example.org:443/simple",
        "https://user:s3cret@pypi.example.org/simple/",
        "https://__token__:pypi-AgEIcHlwaS5vcmc@pypi.example.org/simple",
        "https://pypi.example.org/simple/?foo=bar#frag",
        "  https://pypi.example.org/simple/\n",
    ],
)
def test_a_user_who_spells_an_index_differently_still_gets_the_same_index(spelling: str) -> None:
    assert normalize_location(spelling) == "https://pypi.example.org/simple"


def test_a_port_is_dropped_only_when_it_is_the_schemes_default() -> None:
    assert normalize_location("http://mirror.local:80/simple/") == "http://mirror.local/simple"
    assert normalize_location("https://mirror.local:8443/simple/") == "https://mirror.local:8443/simple"
    assert normalize_location("http://mirror.local:443/simple/") == "http://mirror.local:443/simple"
    assert normalize_location("http://mirror.local/simple") != normalize_location("https://mirror.local/simple")


def test_the_path_keeps_its_case_because_servers_may_not_fold_it() -> None:
    assert normalize_location("https://Mirror.Local/Simple/") == "https://mirror.local/Simple"
    assert normalize_location("https://mirror.local/Simple") != normalize_location("https://mirror.local/simple")


def test_an_ipv6_index_keeps_its_brackets_and_port() -> None:
    assert normalize_location("http://[::1]:8080/simple/") == "http://[::1]:8080/simple"
    assert normalize_location("https://[FE80::1]:443/simple") == "https://[fe80::1]/simple"
    assert normalize_location("http://user:pw@[::1]/simple/") == "http://[::1]/simple"


@pytest.mark.parametrize(
    "location",
    [
        "file:///srv/wheels",
        "file://localhost/srv/wheels/",
        "/srv/wheels",
        "./wheels",
        r"C:\wheels",
        "ftp://mirror.local/simple",
        "https:///simple",  # no host
        "http://mirror.local:99999/simple",  # no such port
        "http://[::1/simple",  # unparsable
        "",
    ],
)
def test_local_folders_and_other_schemes_are_not_cached_locations(location: str) -> None:
    # pip reads local find-links in place: nothing to cache, and nothing to serve them from
    assert normalize_location(location) is None


def test_normalized_set_merges_spellings_and_drops_local_folders() -> None:
    assert normalized_set(
        ["https://pypi.example.org/simple/", "HTTPS://pypi.example.org:443/simple", "/srv/wheels", "file:///srv"]
    ) == {"https://pypi.example.org/simple"}


def test_a_token_in_an_index_url_never_reaches_a_record_or_message() -> None:
    assert redact("https://user:s3cret@mirror.local:8443/simple/a/?x=1#frag") == "https://mirror.local:8443/simple/a/?x=1#frag"
    assert redact("https://__token__@mirror.local/simple/") == "https://mirror.local/simple/"
    # an unescaped "@" in the password: everything up to the last one is credentials
    assert redact("https://me:p@ss@mirror.local/simple/") == "https://mirror.local/simple/"


def test_a_url_without_credentials_is_left_exactly_as_written() -> None:
    url = "HTTPS://Mirror.Local:443/Simple/?x=1"
    assert redact(url) == url


def test_an_unparsable_url_is_not_echoed_back() -> None:
    assert redact("http://user:s3cret@[::1/simple") == "<unparsable url>"


def test_a_page_belongs_to_the_longest_configured_location_it_is_under() -> None:
    locations = normalized_set(["https://mirror.local/", "https://mirror.local/simple/"])

    assert origin_of_page("https://mirror.local/simple/alpha/", locations) == "https://mirror.local/simple"
    assert origin_of_page("https://mirror.local/other/alpha/", locations) == "https://mirror.local"


def test_a_page_is_matched_whatever_its_spelling_or_credentials() -> None:
    locations = normalized_set(["https://mirror.local/simple"])

    assert origin_of_page("HTTPS://u:tok@Mirror.Local:443/simple/Alpha/", locations) == "https://mirror.local/simple"


def test_a_find_links_page_belongs_to_itself() -> None:
    locations = normalized_set(["https://mirror.local/wheels/"])

    assert origin_of_page("https://mirror.local/wheels", locations) == "https://mirror.local/wheels"


@pytest.mark.parametrize(
    "page",
    [
        "https://mirror.local/simple-extra/alpha/",  # a prefix, but not at a path boundary
        "https://mirror.local:8443/simple/alpha/",  # another port is another server
        "http://mirror.local/simple/alpha/",  # another scheme
        "https://other.local/simple/alpha/",
        "file:///srv/simple/alpha/",
    ],
)
def test_a_page_from_an_unconfigured_location_belongs_to_none(page: str) -> None:
    assert origin_of_page(page, normalized_set(["https://mirror.local/simple"])) is None


def test_the_origin_key_is_the_same_in_every_process_so_yesterdays_cache_is_found_today() -> None:
    # the cache's folder names are made from it; a change would orphan every cached file
    assert origin_key("https://pypi.org/simple") == "5a06749b2297be54"


def test_the_origin_key_is_a_short_safe_folder_name_one_per_index() -> None:
    keys = set()
    for spelling in ("https://pypi.org/simple/", "HTTPS://pypi.org:443/simple"):
        location = normalize_location(spelling)
        assert location is not None
        keys.add(origin_key(location))
    assert len(keys) == 1
    [key] = keys
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert origin_key("https://mirror.local/simple") != key
