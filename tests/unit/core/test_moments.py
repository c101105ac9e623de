from datetime import UTC, datetime, timedelta, timezone

from vitrine.core.moments import format_moment, parse_moment

T0 = datetime(2026, 2, 13, 9, 25, 57, 123456, tzinfo=UTC)


def test_a_moment_is_written_as_fixed_width_utc_so_string_order_is_time_order() -> None:
    assert format_moment(T0) == "2026-02-13T09:25:57.123456Z"
    assert format_moment(datetime(2026, 2, 13, 10, 25, 57, 123456, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-02-13T09:25:57.123456Z"
    )
    moments = [T0 + timedelta(microseconds=step * 999_917) for step in range(50)]
    assert sorted(format_moment(m) for m in reversed(moments)) == [format_moment(m) for m in moments]


def test_a_naive_moment_is_taken_as_utc() -> None:
    assert format_moment(T0.replace(tzinfo=None)) == format_moment(T0)


def test_every_format_older_items_carry_still_reads() -> None:
    # format_moment's own output, the old adapter formatter's (same shape), and the isoformat()
    # strings earlier versions stored for sentAt and updatedAt.
    assert parse_moment("2026-02-13T09:25:57.123456Z") == T0
    assert parse_moment(T0.isoformat()) == T0
    assert parse_moment("2026-02-13T10:25:57.123456+01:00") == T0
    assert parse_moment("2026-02-13T09:25:57Z") == T0.replace(microsecond=0)
    assert parse_moment("2026-02-13T09:25:57") == T0.replace(microsecond=0)


def test_a_written_moment_reads_back_to_the_same_instant() -> None:
    assert parse_moment(format_moment(T0)) == T0


def test_absent_or_garbled_moments_read_as_none() -> None:
    for raw in (None, "", "yesterday", 42, "2026-13-45T99:00:00Z"):
        assert parse_moment(raw) is None
