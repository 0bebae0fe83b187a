"""Session items as DynamoDB returns them: anything malformed authorises nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from trading_shared.aws import InvalidSessionError, Session, parse_session
from trading_shared.trade import ACCOUNT_RE

# DynamoDB attribute values, well and badly typed.
ATTRIBUTE = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=70) | st.from_regex(ACCOUNT_RE, fullmatch=True)),
    st.builds(lambda n: {"N": n}, st.text(max_size=20) | st.integers(-(10**12), 10**12).map(str)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"L": [v]}, st.text(max_size=5).map(lambda s: {"S": s})),
    st.text(max_size=5),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["expires_at", "account_id", "other"]), ATTRIBUTE))
def test_a_session_item_parses_whole_or_is_refused(item: dict[str, Any]) -> None:
    # GIVEN any item under the session key
    # WHEN it is parsed
    try:
        session = parse_session(item)
    except InvalidSessionError:
        return  # refused: 401

    # THEN a session that comes out names a well-formed account and a bounded expiry
    assert isinstance(session, Session)
    assert ACCOUNT_RE.fullmatch(session.account_id)
    assert 0 <= session.expires_at <= 10**10
