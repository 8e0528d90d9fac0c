"""The cluster id the local broker's storage is formatted with."""

from __future__ import annotations

from collections.abc import Iterator

from llmrouter.localkafka.process import new_cluster_id


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    # 0xF8: the first six bits are 62, "-" in URL-safe base64; the storage tool would
    # read such an id as an option and refuse to format
    draws: Iterator[bytes] = iter([b"\xf8" + bytes(15), b"\x01" + bytes(15)])
    cluster_id = new_cluster_id(lambda: next(draws))
    assert cluster_id == "AQAAAAAAAAAAAAAAAAAAAA"


def test_ids_are_22_url_safe_characters() -> None:
    ids = {new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
