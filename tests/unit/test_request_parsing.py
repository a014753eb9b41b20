"""What the endpoint decorator refuses before any schema or service runs: bodies nested too deep,
duplicated keys, bodies that are not UTF-8, lone surrogates, repeated query parameters; and
that every request model of the API refuses unknown fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

import pytest
from chalice import Blueprint, Chalice
from pydantic import BaseModel, Field, ValidationError

from chalicelib import bootstrap
from chalicelib.api import middleware
from chalicelib.api.problems import BadRequest
from chalicelib.api.routing import MAX_JSON_DEPTH, endpoint, parse_json
from chalicelib.api.schemas import StrictModel
from chalicelib.config import load_settings
from tests.support.client import ApiClient


class Payload(StrictModel):
    name: str = Field(min_length=1)
    amount: Decimal
    tags: list[Any] = []
    more: dict[str, Any] = {}


class Page(StrictModel):
    limit: int = 10


@pytest.fixture
def client():
    bootstrap.configure(load_settings({}))
    app = Chalice(app_name="parsing-test")
    bp = Blueprint(__name__)

    @endpoint(bp, "POST", "/things", summary="make a thing", body=Payload, public=True, status=201)
    def make(body: Payload):
        return {"name": body.name, "tags": body.tags, "more": body.more}

    @endpoint(bp, "GET", "/things", summary="list things", query=Page, public=True)
    def page(query: Page):
        return {"limit": query.limit}

    middleware.install(app)
    app.register_blueprint(bp)
    yield ApiClient(app)
    bootstrap.configure(load_settings({}))


def nested(depth: int) -> str:
    """A body whose arrays and objects nest ``depth`` levels (the top-level object counts)."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return '{"name": "a", "amount": "1", "tags": ' + inner + "}" if depth > 1 else '{"name": "a", "amount": "1"}'


def bad_request(reply, field):
    assert reply.status == 400, reply
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json["type"].endswith("/bad-request")
    assert reply.json["field"] == field, reply.json
    return reply.json


# ---- depth -----------------------------------------------------------------------------------
def test_a_body_nested_exactly_to_the_limit_is_accepted(client):
    assert MAX_JSON_DEPTH == 32
    reply = client.post("/things", raw=nested(MAX_JSON_DEPTH).encode())
    assert reply.status == 201, reply


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 200_000])
def test_a_body_nested_deeper_than_the_limit_is_a_400_not_a_recursion_error(client, depth):
    problem = bad_request(client.post("/things", raw=nested(depth).encode()), "body")
    assert problem["max_depth"] == MAX_JSON_DEPTH
    assert "32 levels" in problem["detail"]


def test_objects_count_as_levels_like_arrays():
    deep = '{"a": ' * 40 + "1" + "}" * 40
    with pytest.raises(BadRequest, match="deeper than 32"):
        parse_json(deep.encode())


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    opening = "[" * 100 + "{" * 100
    raw = '{"name": "a\\" ' + opening + '", "amount": "1", "more": {"k": "\\\\"}, "tags": ["]]]' + opening + '"]}'
    reply = client.post("/things", raw=raw.encode())
    assert reply.status == 201, reply
    assert reply.json["name"] == 'a" ' + opening and reply.json["more"] == {"k": "\\"}


# ---- duplicate keys ----------------------------------------------------------------------------
def test_a_duplicated_key_is_a_400_naming_it_not_the_last_value_silently(client):
    bad_request(client.post("/things", raw=b'{"name": "a", "amount": "1", "name": "b"}'), "name")


def test_a_duplicated_key_with_the_same_value_is_refused_too(client):
    bad_request(client.post("/things", raw=b'{"name": "a", "amount": "1", "amount": "1"}'), "amount")


def test_a_duplicated_key_deep_inside_is_named_by_its_path(client):
    raw = b'{"name": "a", "amount": "1", "tags": [{"x": 1}, {"sku": "A", "qty": 1, "sku": "B"}]}'
    problem = bad_request(client.post("/things", raw=raw), "tags.1.sku")
    assert "more than once" in problem["detail"]


def test_the_first_duplicate_in_document_order_is_named():
    with pytest.raises(BadRequest) as caught:
        parse_json(b'{"a": {"x": 1, "x": 2}, "b": 1, "b": 2}')
    assert caught.value.field == "a.x"


# ---- encoding ----------------------------------------------------------------------------------
TEXT = '{"name": "Caf\u00e9 \u20ac \U0001f600", "amount": "1"}'


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode("latin-1", "replace"),
        TEXT.encode("utf-16"),
        TEXT.encode("utf-32"),
        b"\xef\xbb\xbf" + TEXT.encode(),
        b'{"name": "\xed\xa0\x80", "amount": "1"}',  # a surrogate encoded as if it were a character
        b'{"name": "\xc0\xaf", "amount": "1"}',  # an overlong encoding of '/'
    ],
    ids=["latin-1", "utf-16", "utf-32", "utf-8 with a BOM", "encoded surrogate", "overlong"],
)
def test_a_body_that_is_not_utf8_without_bom_is_a_400_naming_the_body(client, raw):
    bad_request(client.post("/things", raw=raw), "body")


def test_utf8_text_and_escaped_surrogate_pairs_are_accepted(client):
    assert client.post("/things", raw=TEXT.encode()).json["name"] == "Caf\u00e9 \u20ac \U0001f600"
    escaped = b'{"name": "\\ud83d\\ude00", "amount": "1"}'
    assert client.post("/things", raw=escaped).json["name"] == "\U0001f600"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "a\\ud800", "amount": "1"}', "name"),
        (b'{"name": "a", "amount": "1", "tags": ["ok", "\\udfff\\ud800"]}', "tags.1"),
        (b'{"name": "a", "amount": "1", "more": {"\\ud83d": 1}}', "more"),
    ],
)
def test_a_lone_surrogate_escape_is_a_400_naming_where_it_is(client, raw, field):
    problem = bad_request(client.post("/things", raw=raw), field)
    assert "surrogate" in problem["detail"]


def test_an_escaped_backslash_before_u_d800_is_plain_text_not_a_surrogate(client):
    reply = client.post("/things", raw=b'{"name": "C:\\\\ud800", "amount": "1"}')
    assert reply.status == 201 and reply.json["name"] == "C:\\ud800"


# ---- numbers stay exact, as before -------------------------------------------------------------
def test_numbers_with_a_fraction_are_still_kept_as_their_text():
    parsed = parse_json(b'{"a": [0.1, 2], "b": 1e2}')
    assert parsed == {"a": [Decimal("0.1"), 2], "b": Decimal(100)}
    assert [parsed["a"][0].text, parsed["b"].text] == ["0.1", "1e2"]  # exact, never a float


def test_a_json_number_is_not_text_for_a_text_field(client):
    # {"name": 1.5} is not the text "1.5": the schema says string (found by fuzzing the OpenAPI document)
    reply = client.post("/things", raw=b'{"name": 1.5, "amount": "1"}')
    assert reply.status == 422 and reply.json["field"] == "name", reply


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json_and_never_become_floats(client, constant):
    problem = bad_request(client.post("/things", raw=b'{"name": "a", "amount": "1", "tags": [' + constant + b"]}"),
                          "body")
    assert constant.lstrip(b"-").decode() in problem["detail"]


# ---- query parameters --------------------------------------------------------------------------
def test_a_query_parameter_given_twice_is_a_400_naming_it(client):
    bad_request(client.get("/things?limit=1&limit=500"), "limit")
    assert client.get("/things?limit=5").json == {"limit": 5}


def test_an_unknown_query_parameter_is_a_422_naming_it(client):
    reply = client.get("/things?limt=5")
    assert reply.status == 422 and reply.json["field"] == "limt"


# ---- every request model of the API refuses unknown fields --------------------------------------
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _request_models() -> dict[str, type[BaseModel]]:
    """Every body and query model of the app's endpoints, and every model nested in them."""
    import app  # noqa: F401 (registers every blueprint, hence every endpoint)
    from chalicelib.api.routing import REGISTRY

    found: dict[str, type[BaseModel]] = {}
    todo = [m for ep in REGISTRY for m in (ep.body, ep.query) if m is not None]
    while todo:
        model = todo.pop()
        name = f"{model.__module__}.{model.__qualname__}"
        if name in found:
            continue
        found[name] = model
        for fld in model.model_fields.values():
            todo.extend(_models_in(fld.annotation))
    return found


def test_the_walk_finds_the_models_named_in_the_issue_and_nested_ones():
    names = set(_request_models())
    for expected in ("chains.VerifyRequest", "chains.SignRequest", "ledger.SaleLine", "accounts.AddressIn",
                     "support.AttachmentIn", "exports.ExportQuery", "members.EventsQuery"):
        assert f"chalicelib.api.{expected}" in names


def test_every_request_model_forbids_unknown_fields():
    lenient = [name for name, model in _request_models().items() if model.model_config.get("extra") != "forbid"]
    assert lenient == []


@pytest.mark.parametrize("name", sorted(_request_models()))
def test_an_unknown_field_is_refused_by_each_request_model(name):
    model = _request_models()[name]
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"surely_not_a_field": 1})
    assert any(e["type"] == "extra_forbidden" and e["loc"] == ("surely_not_a_field",)
               for e in caught.value.errors()), caught.value.errors()
