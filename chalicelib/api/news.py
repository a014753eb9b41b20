"""News on the app's home screen: any signed-in account reads what is visible for its tenants'
countries; the platform operator publishes and withdraws (``news.publish``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel, SupportedInstant, support_text
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import PlatformPermission
from chalicelib.domain.support import MAX_NEWS_BODY, MAX_NEWS_TITLE, News
from chalicelib.wiring import Service

news_bp = Blueprint(__name__)
TAGS = ("news",)


class NewsIn(StrictModel):
    title: Annotated[str, support_text(MAX_NEWS_TITLE)] = Field(max_length=MAX_NEWS_TITLE)
    body: Annotated[str, support_text(MAX_NEWS_BODY)] = Field(
        max_length=MAX_NEWS_BODY, description="Markdown (raw HTML is shown as text; no images)")
    audience: Literal["all", "BE", "FR"] = Field("all", description="users of tenants in this country, or all")
    visible_from: SupportedInstant | None = Field(None, description="default: now")
    visible_until: SupportedInstant | None = None


class NewsOut(BaseModel):
    news_id: str
    title: str
    body_markdown: str
    body_html: str = Field(description="safe HTML rendered from the Markdown body")
    audience: Literal["all", "BE", "FR"]
    visible_from: datetime
    visible_until: datetime | None


class OperatorNewsOut(NewsOut):
    published_at: datetime
    withdrawn_at: datetime | None


class NewsList(BaseModel):
    news: list[NewsOut]


class OperatorNewsList(BaseModel):
    news: list[OperatorNewsOut]


def news_out(n: News, *, operator: bool = False) -> NewsOut:
    from chalicelib.services.news import render_markdown

    fields = dict(news_id=n.news_id, title=n.title, body_markdown=n.body, body_html=render_markdown(n.body),
                  audience=n.audience, visible_from=n.visible_from, visible_until=n.visible_until)
    if operator:
        return OperatorNewsOut(**fields, published_at=n.published_at, withdrawn_at=n.withdrawn_at)
    return NewsOut(**fields)


@endpoint(news_bp, "GET", "/v1/news", summary="News to show on the home screen (any signed-in account)",
          tags=TAGS, response=NewsList)
def home_news(principal: Principal, *, news=Service("news")):
    return NewsList(news=[news_out(n) for n in news.for_reader(principal)])


@endpoint(news_bp, "POST", "/v1/operator/news", summary="Publish a news item", tags=TAGS, body=NewsIn,
          response=OperatorNewsOut, status=201, permission=PlatformPermission.NEWS_PUBLISH,
          rules={"visible_until": "after visible_from (default: now)"})
def publish(principal: Principal, body: NewsIn, *, news=Service("news")):
    item = news.publish(principal, title=body.title, body=body.body, audience=body.audience,
                        visible_from=body.visible_from, visible_until=body.visible_until)
    return news_out(item, operator=True)


@endpoint(news_bp, "GET", "/v1/operator/news", summary="Every news item, newest first (operator)", tags=TAGS,
          response=OperatorNewsList, permission=PlatformPermission.NEWS_PUBLISH)
def all_news(*, news=Service("news")):
    return OperatorNewsList(news=[news_out(n, operator=True) for n in news.all()])


@endpoint(news_bp, "DELETE", "/v1/operator/news/{news_id}", summary="Withdraw a news item", tags=TAGS,
          response=OperatorNewsOut, permission=PlatformPermission.NEWS_PUBLISH, errors=(404, 409))
def withdraw(news_id: str, principal: Principal, *, news=Service("news")):
    return news_out(news.withdraw(principal, news_id), operator=True)
