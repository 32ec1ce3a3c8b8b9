"""The envelope rules, the flow's display rules and throttle windows as pure functions (synthetic clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shared_path
from tests.sink.conftest import card, envelope, envelope_of
from tools.teams_sink import rules
from tools.teams_sink.schema import CardSchema, schema_file
from tools.teams_sink.state import SinkState, make_fault, parse_windows
from tools.teams_sink.throttle import TEAMS_WINDOWS, WindowCounter, retry_after_header

pytestmark = pytest.mark.unit


def test_teams_windows_are_the_documented_table() -> None:
    assert TEAMS_WINDOWS == ((1, 4), (30, 60), (3600, 100), (7200, 150), (86400, 1800))
    assert SinkState().limits.windows == TEAMS_WINDOWS
    assert SinkState(windows=[]).limits.windows == ()


@pytest.mark.parametrize("index", range(len(TEAMS_WINDOWS)))
def test_each_teams_window_refuses_the_request_over_its_limit(index: int) -> None:
    # The window under test is the shortest one left, so it is the one that fills first.
    windows = TEAMS_WINDOWS[index:]
    seconds, limit = windows[0]
    counter = WindowCounter()
    now = 1000.0
    for _ in range(limit):
        assert counter.admit(windows, now) is None
        now += 0.001
    wait = counter.admit(windows, now)
    assert wait is not None and wait == pytest.approx(seconds - limit * 0.001)
    assert counter.admit(windows, now + wait) is None


def test_all_teams_windows_together_over_a_day() -> None:
    """A client sending as fast as allowed gets 4 in the first second, 60 in 30 s, 100 in an hour, 1800 a day."""
    counter = WindowCounter()
    now, admitted = 0.0, []
    while now < 86400:
        wait = counter.admit(TEAMS_WINDOWS, now)
        if wait is None:
            admitted.append(now)
        else:
            now += wait
    for seconds, limit in TEAMS_WINDOWS:
        assert sum(1 for moment in admitted if moment < seconds) == limit


def test_refused_requests_are_not_counted_and_retry_after_rounds_up() -> None:
    counter = WindowCounter()
    windows = ((10.0, 1),)
    assert counter.admit(windows, 0.0) is None
    for moment in (1.0, 2.0, 9.5):
        assert counter.admit(windows, moment) == pytest.approx(10.0 - moment)
    assert counter.admit(windows, 10.0) is None
    assert retry_after_header(0.2) == "1" and retry_after_header(1.01) == "2"


def test_a_bursting_token_bucket_is_refused_like_by_teams() -> None:
    counter = WindowCounter()
    windows = ((1.0, 4),)
    for moment in (0.0, 0.0, 0.0, 0.0):
        assert counter.admit(windows, moment) is None
    assert counter.admit(windows, 0.25) is not None  # a 4/s bucket would refill one token here


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"type": "message"}, 400, "is of type 'Null'"),
        ({"type": "message", "attachments": None}, 400, "attachments is Null"),
        ({"type": "message", "attachments": {}}, 400, "is of type 'Object'"),
        ([1, 2], 400, "attachments is Null"),
        ({"type": "message", "attachments": []}, 400, "empty"),
        ({"type": "other", "attachments": envelope()["attachments"]}, 400, "must be 'message'"),
        (envelope(content_type="application/json"), 400, "contentType must be"),
        (envelope({"@type": "MessageCard", "text": "x"}), 400, "Property 'type' must be 'AdaptiveCard'"),
        (envelope(card("1.6")), 400, "'1.6' is not supported"),
        (envelope({"type": "AdaptiveCard", "body": []}), 400, "'version' is required"),
        (envelope({"type": "AdaptiveCard", "version": 1.5}), 400, "must be a string"),
    ],
)
def test_legacy_envelope_rejections(body: object, status: int, text: str) -> None:
    rejection = rules.check_envelope(body)
    assert rejection is not None and rejection.status == status and text in rejection.message


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.4", "1.5"])
def test_legacy_versions_up_to_1_5_pass(version: str) -> None:
    assert rules.check_envelope(envelope(card(version))) is None


def test_size_boundary_and_text() -> None:
    assert rules.check_size(28672) is None
    rejection = rules.check_size(28673)
    assert rejection is not None and rejection.status == 413
    assert (
        "MessageSizeExceeded" in rejection.message and "max allowed size is 28672 bytes" in rejection.message
    )


def test_legacy_payloads() -> None:
    assert rules.check_legacy({"text": "hi"}) is None
    assert rules.check_legacy({"@type": "MessageCard", "summary": "s"}) is None
    assert rules.check_legacy(envelope()) is None
    assert (
        "Summary or Text"
        in (rules.check_legacy({"@type": "MessageCard"}) or rules.Rejection(0, "", "")).message
    )
    assert rules.check_legacy({"text": "  "}) is not None
    assert rules.check_legacy("text") is not None


def test_fault_parameters_are_validated() -> None:
    assert make_fault()[0].status == 500
    assert make_fault(delay=0.5)[0].status is None
    with pytest.raises(ValueError, match="count"):
        make_fault(count=0)
    with pytest.raises(ValueError, match="status"):
        make_fault(status=99)
    with pytest.raises(ValueError, match="dropped"):
        make_fault(drop=True, status=500)
    with pytest.raises(ValueError, match="window"):
        parse_windows([[0, 1]])
    assert parse_windows("default") == TEAMS_WINDOWS


# -- the flow after its 202 ---------------------------------------------------------------------------

FLOW = rules.FlowRules()


def codes(body: Any, flow: rules.FlowRules = FLOW) -> list[list[str]]:
    return [[problem.code for problem in post.problems] for post in rules.run_flow(body, flow)]


def test_the_flow_posts_one_message_per_attachment() -> None:
    posts = rules.run_flow(envelope_of(card(), card("1.5"), card("1.3")), FLOW)
    assert [(post.attachment, post.displayed) for post in posts] == [(0, True), (1, False), (2, True)]
    assert posts[0].card == card() and posts[0].shown == "the card"
    assert codes({"attachments": []}) == [["NoAttachments"]]
    assert codes(None) == [["InvalidTemplate"]] and rules.run_flow(None, FLOW)[0].attachment is None


def test_versions_up_to_1_4_display_and_the_limit_can_be_raised() -> None:
    assert codes(envelope(card("1.4"))) == [[]] and codes(envelope(card("1.0"))) == [[]]
    assert codes(envelope(card("1.5"))) == [["CardVersion"]]
    assert codes(envelope(card("1.5")), rules.FlowRules(max_version=(1, 5))) == [[]]
    assert rules.workflow_max_version({}) == (1, 4)
    assert rules.workflow_max_version({"TEAMS_SINK_MAX_VERSION": " 1.5 "}) == (1, 5)
    with pytest.raises(ValueError, match="TEAMS_SINK_MAX_VERSION"):
        rules.workflow_max_version({"TEAMS_SINK_MAX_VERSION": "latest"})


def test_actions_are_found_anywhere_but_in_free_form_data() -> None:
    submit = {"type": "Action.Submit", "data": {"type": "Action.Execute", "nested": [{"type": "Action.Http"}]}}
    content = {
        **card(),
        "body": [
            {"type": "Input.Text", "id": "t", "inlineAction": {"type": "Action.Submit"}},
            {"type": "ColumnSet", "columns": [{"type": "Column", "items": [], "selectAction": submit}]},
        ],
        "actions": [{"type": "action.openurl", "url": "https://x"}],  # not the type's spelling
        "msteams": {"entities": [{"type": "Action.Submit"}]},
    }
    [post] = rules.run_flow(envelope(content), FLOW)
    paths = [problem.message.split(":")[0] for problem in post.problems]
    assert paths == [
        "attachments[0].content.body[0].inlineAction",
        "attachments[0].content.body[1].columns[0].selectAction",
        "attachments[0].content.actions[0]",
    ]
    assert post.shown == rules.SHOWN_BROKEN


def test_user_and_tag_mentions_are_counted_apart() -> None:
    def entity(n: int, kind: str | None) -> dict[str, Any]:
        mentioned = {"id": str(n), "name": str(n), **({"type": kind} if kind else {})}
        return {"type": "mention", "text": f"<at>{n}</at>", "mentioned": mentioned}

    def with_mentions(users: int, tags: int) -> dict[str, Any]:
        entities = [entity(n, None) for n in range(users)] + [entity(n, "Tag") for n in range(tags)]
        return envelope({**card(), "msteams": {"entities": [*entities, {"type": "other"}]}})

    assert codes(with_mentions(20, 20)) == [[]]
    assert codes(with_mentions(21, 20)) == [["TooManyMentions"]]
    assert codes(with_mentions(0, 21)) == [["TooManyMentions"]]
    assert codes(with_mentions(21, 21)) == [["TooManyMentions", "TooManyMentions"]]


def test_size_is_the_apps_envelope_measure() -> None:
    from shared.cards.envelopes import attachment
    from shared.cards.limits import message_size

    content = card(text="é" * 100 + "\n<at>x</at>")
    assert rules.attachment_size(attachment(content)) == message_size(content)
    limit = rules.attachment_size(attachment(content))
    assert codes(envelope(content), rules.FlowRules(max_bytes=limit)) == [[]]
    assert codes(envelope(content), rules.FlowRules(max_bytes=limit - 1)) == [["MessageSizeExceeded"]]


def test_what_the_channel_shows_is_the_worst_problem() -> None:
    post = rules.Post(0, {}, 1, [rules.Problem("a", "a", rules.BROKEN_ACTION)])
    assert post.shown == rules.SHOWN_BROKEN
    post.problems.append(rules.Problem("b", "b", rules.NOT_RENDERED))
    assert post.shown == rules.SHOWN_ERROR
    post.problems.append(rules.Problem("c", "c", rules.FAILED_RUN))
    assert post.shown == rules.SHOWN_NOTHING


def test_schema_files_follow_the_version_limit(tmp_path: Path) -> None:
    folder = shared_path("schemas")
    assert schema_file((1, 4), folder) == folder / "adaptive-card-1.4.0.json"
    assert schema_file((1, 5), folder) == folder / "adaptive-card-1.5.0.json"
    assert schema_file((1, 2), folder) == folder / "adaptive-card-1.4.0.json"  # the closest kept above
    assert schema_file((2, 0), folder) is None
    assert schema_file((1, 4), tmp_path) is None


def test_schema_findings_name_the_element_and_the_property() -> None:
    schema = CardSchema(shared_path("schemas", "adaptive-card-1.4.0.json"))
    good = {
        **card(),
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "msteams": {"width": "Full", "entities": []},  # Teams' extension: not the schema's business
        "body": [{"type": "Image", "url": "https://x/i.png", "fallback": "drop", "size": "Small"}],
    }
    assert schema.problems(good, "c") == []
    bad = {
        **card(),
        "body": [
            {"type": "Container", "items": [{"type": "RichTextBlock", "inlines": [], "colour": "red"}]},
            {"type": "Image", "url": "https://x/i.png", "size": "huge"},
            {"text": "no type"},
        ],
    }
    assert schema.problems(bad, "c") == [
        "c.body[0].items[0] (RichTextBlock): property 'colour' is not in the Adaptive Cards 1.4 schema",
        "c.body[1].size: \"huge\" is not an allowed value: one of 'auto', 'stretch', 'small', 'medium', "
        "'large' (Adaptive Cards 1.4)",
        "c.body[2]: an element without a 'type' (Adaptive Cards 1.4 schema)",
    ]
    many = {**card(), "body": [{"type": "Table"}, {"type": "Carousel"}, {"type": "Icon"}, {"type": "Badge"}]}
    found = schema.problems(many, "c")
    assert len(found) == 4 and found[-1] == "... and 1 more schema findings"


def test_the_not_displayed_journal_is_bounded_and_outlives_reset() -> None:
    from tools.teams_sink.state import JOURNAL_SIZE

    state = SinkState(windows=[])
    hidden = {"attachment": 0, "card": card("1.5"), "displayed": False, "reasons": ["r"], "codes": ["c"]}
    for _ in range(JOURNAL_SIZE + 5):
        state.log_request("workflow", "ch", status=202, teams_status=202, size=1, accepted=True, posts=[hidden])
    state.reset()
    held, lost = state.not_displayed_since(0)
    assert (len(held), lost, state.mark()) == (JOURNAL_SIZE, 5, JOURNAL_SIZE + 5)
    assert "card" not in held[0] and held[0]["channel"] == "ch"
    assert state.not_displayed_since(JOURNAL_SIZE + 3)[0] == held[-2:]
