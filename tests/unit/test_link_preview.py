"""Link previews: the first URL of a text, and title / description read from a page."""

from __future__ import annotations

from wagateway.messages.link_preview import first_url, parse


def test_first_url_is_the_first_http_link_without_trailing_punctuation() -> None:
    assert first_url("lihat https://toko.example/a?b=1, lalu http://x.example") == (
        "https://toko.example/a?b=1"
    )
    assert first_url("(http://toko.example/menu).") == "http://toko.example/menu"
    assert first_url("tanpa tautan, ftp://x.example") is None


def test_og_tags_win_over_title_and_meta_description() -> None:
    page = """<html><head><title>Judul</title>
    <meta name="description" content="biasa">
    <meta property="og:title" content="Toko &amp; Kopi">
    <meta property="og:description" content="Buka 9-17"></head><body>x</body></html>"""
    assert parse("https://t.example", page) == {
        "url": "https://t.example",
        "title": "Toko & Kopi",
        "description": "Buka 9-17",
    }
    plain = "<title> Judul </title><meta name='description' content='biasa'>"
    assert parse("u", plain) == {"url": "u", "title": "Judul", "description": "biasa"}


def test_a_page_without_a_title_has_no_preview() -> None:
    assert parse("u", "<html><body>hanya teks</body></html>") is None
    assert parse("u", "not html at all") is None
