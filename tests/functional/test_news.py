"""News through the HTTP API: the operator publishes, the app's home screen shows what is visible
for the reader's countries, Markdown is rendered safely, and only the operator publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.operators import operator_account
from tests.support.users import count_all, member, signed_up_account

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def world(stack):
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings)
    api = ApiClient(app)
    be = signed_up_account(api, stack, "BE")
    fr = signed_up_account(api, stack, "FR")
    return api, {"be": be, "fr": fr, "seller": member(api, stack, be.tenant_id, be.token, "seller"),
                 "operator": operator_account(api)}


def client(world, who):
    api, people = world
    return api.with_token(people[who].token)


def publish(world, **body):
    reply = client(world, "operator").post("/v1/operator/news", {"title": "T", "body": "B", **body})
    assert reply.status == 201, reply
    return reply.json


def iso(delta_days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=delta_days)).isoformat()


def test_the_home_screen_shows_what_is_visible_for_the_readers_countries(world):
    everyone = publish(world, title="Maintenance on Sunday", audience="all")
    belgian = publish(world, title="Peppol reminder", audience="BE", visible_until=iso(7))
    french = publish(world, title="Rappel FEC", audience="FR")
    future = publish(world, title="Next month", audience="all", visible_from=iso(30))
    expired = publish(world, title="Last week", audience="all", visible_from=iso(-10), visible_until=iso(-3))
    mine = {n["news_id"] for n in (everyone, belgian, french, future, expired)}

    def seen(who):
        news = client(world, who).get("/v1/news")
        assert news.status == 200, news
        return [n["title"] for n in news.json["news"] if n["news_id"] in mine]

    assert sorted(seen("be")) == sorted(seen("seller")) == ["Maintenance on Sunday", "Peppol reminder"]
    assert sorted(seen("fr")) == ["Maintenance on Sunday", "Rappel FEC"]
    assert seen("operator") == ["Maintenance on Sunday"]  # no tenant: the "all" audience only
    api, _ = world
    assert api.with_token(None).get("/v1/news").status == 401

    withdrawn = client(world, "operator").delete(f"/v1/operator/news/{everyone['news_id']}")
    assert withdrawn.status == 200 and withdrawn.json["withdrawn_at"]
    assert seen("be") == ["Peppol reminder"]
    assert client(world, "operator").delete(f"/v1/operator/news/{everyone['news_id']}").status == 409
    assert client(world, "operator").delete("/v1/operator/news/n00000000000000000000").status == 404
    listed = {n["news_id"] for n in client(world, "operator").get("/v1/operator/news").json["news"]}
    assert mine <= listed


def test_markdown_is_rendered_safely():
    body = ("# Hello\n\n**bold** and <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
            "[safe](https://scelle.example/help) [evil](javascript:alert(1)) ![pixel](https://t.example/p.png)")
    from chalicelib.services.news import render_markdown

    html = render_markdown(body)
    assert "<h1>Hello</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="https://scelle.example/help" rel="nofollow noopener noreferrer"' in html
    assert 'href="javascript' not in html


def test_the_published_body_comes_back_rendered(world):
    news = publish(world, title="Markdown", body="Read **this** <b>now</b>")
    assert news["body_html"] == "<p>Read <strong>this</strong> &lt;b&gt;now&lt;/b&gt;</p>\n"
    assert news["body_markdown"] == "Read **this** <b>now</b>"


@pytest.mark.parametrize("body, field", [
    ({"title": " ", "body": "b"}, "title"),
    ({"title": "t" * 201, "body": "b"}, "title"),
    ({"title": "t", "body": ""}, "body"),
    ({"title": "t", "body": "b", "audience": "DE"}, "audience"),
    ({"title": "t", "body": "b", "visible_from": "2026-05-01T08:00:00"}, "visible_from"),
    ({"title": "t", "body": "b", "visible_from": "2026-05-02T08:00:00Z", "visible_until": "2026-05-01T08:00:00Z"},
     "visible_until"),
    ({"title": "t", "body": "b", "colour": "red"}, "colour"),
])
def test_bad_news_is_a_422_naming_the_field_and_writes_nothing(world, stack, body, field):
    before = count_all(stack)
    reply = client(world, "operator").post("/v1/operator/news", body)
    assert reply.status == 422 and reply.json["field"] == field, reply
    assert count_all(stack) == before


def test_only_the_operator_publishes(world, stack):
    news = publish(world, title="Operator only")
    before = count_all(stack)
    for who in ("be", "seller", "fr"):
        for reply in (client(world, who).post("/v1/operator/news", {"title": "x", "body": "y"}),
                      client(world, who).get("/v1/operator/news"),
                      client(world, who).delete(f"/v1/operator/news/{news['news_id']}")):
            assert reply.status == 403 and reply.json["permission"] == "news.publish", (who, reply)
    assert count_all(stack) == before
