"""News shown on the app's home screen, published by the platform operator.

A news item has a title, a Markdown body, an audience (``all``, ``BE`` or ``FR``: the country of
the reader's tenants) and a visibility window. ``GET /v1/news`` returns what is visible now for
the caller. The body is rendered to HTML by ``markdown-it-py`` with raw HTML disabled (any
``<tag>`` in the source is shown as text), images disabled (no tracking pixels), and only the
link schemes markdown-it allows (no ``javascript:``); the HTML is what a client may insert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache

from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.support import (
    AUDIENCES,
    MAX_NEWS_BODY,
    MAX_NEWS_TITLE,
    News,
    check_window,
    clean_text,
    is_id,
    new_id,
    to_millis,
)


def _now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt  # lazy: only news and mailings need it

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> str:
    """Safe HTML from Markdown: raw HTML escaped, no images, no script links."""
    return _markdown().render(text)


class NewsService:
    def __init__(self, store, accounts, *, touch: Callable[[Principal], None] = lambda p: None,
                 clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._accounts = accounts
        self._touch = touch
        self._clock = to_millis(clock)

    def publish(self, principal: Principal, *, title: object, body: object, audience: object,
                visible_from: datetime | None, visible_until: datetime | None) -> News:
        title_text = clean_text(title, "title", MAX_NEWS_TITLE, single_line=True)
        body_text = clean_text(body, "body", MAX_NEWS_BODY)
        if audience not in AUDIENCES:
            raise ValidationFailed(f"Audience must be one of {list(AUDIENCES)}; got {audience!r}.", field="audience")
        now = self._clock()
        start = visible_from or now
        check_window(start, visible_until)
        news = News(new_id("n"), title_text, body_text, audience, start.astimezone(UTC),  # type: ignore[arg-type]
                    visible_until.astimezone(UTC) if visible_until else None, principal.user_id, now)
        self._store.put_news(news)
        return news

    def all(self) -> list[News]:
        return sorted(self._store.all_news(), key=lambda n: n.published_at, reverse=True)

    def withdraw(self, principal: Principal, news_id: str) -> News:
        news = self._store.get_news(news_id) if is_id(news_id, "n") else None
        if news is None:
            raise NotFound("news not found", field="news_id")
        if news.withdrawn_at is not None:
            raise Conflict("this news item is already withdrawn", field="news_id")
        withdrawn = replace(news, withdrawn_at=self._clock())
        self._store.put_news(withdrawn, new=False)
        return withdrawn

    def countries_of(self, user_id: str) -> frozenset[str]:
        now = self._clock()
        countries = set()
        for m in self._accounts.memberships_of(user_id):
            if m.is_active(now):
                tenant = self._accounts.get_tenant(m.tenant_id)
                if tenant is not None:
                    countries.add(tenant.country)
        return frozenset(countries)

    def for_reader(self, principal: Principal) -> list[News]:
        """What the app shows at start: visible now, for the reader's tenants' countries, newest
        first. Also records the reader's activity for the day (mail to recently active users)."""
        now = self._clock()
        countries = self.countries_of(principal.user_id)
        self._touch(principal)
        visible = [n for n in self._store.all_news() if n.visible(now, countries)]
        return sorted(visible, key=lambda n: n.visible_from, reverse=True)
