"""Shares of a day: disjoint, complete, and split into disjoint chunks of themselves."""

from __future__ import annotations

import pytest

from fraud.shares import Share, all_shares


def _of(hash_value: int, share: Share) -> bool:
    """What ``staging.share_of(id, count) = index`` says of an id with this hash."""
    return hash_value % share.count == share.index


@pytest.mark.parametrize(("count", "chunks"), [(1, 1), (2, 3), (4, 5), (3, 1)])
def test_the_chunks_of_a_share_hold_exactly_its_rows(count: int, chunks: int) -> None:
    hashes = range(1000)
    for share in all_shares(count):
        pieces = share.split(chunks)
        assert len(pieces) == chunks
        for value in hashes:
            owners = [piece for piece in pieces if _of(value, piece)]
            assert len(owners) == (1 if _of(value, share) else 0)


@pytest.mark.parametrize(("index", "count"), [(0, 0), (2, 2), (-1, 3)])
def test_a_share_that_does_not_exist_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match=f"share {index} of {count} does not exist"):
        Share(index, count)


def test_parameters_name_the_share() -> None:
    assert Share(1, 4).params == {"share_index": 1, "share_count": 4}
