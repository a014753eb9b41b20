"""The endpoint decorator, on a throwaway app: body checks, validation, error mapping."""

from decimal import Decimal

import pytest
from chalice import Blueprint, Chalice
from pydantic import BaseModel, Field

from chalicelib import bootstrap
from chalicelib.api import middleware
from chalicelib.api.routing import endpoint
from chalicelib.config import load_settings
from chalicelib.domain.errors import Conflict
from tests.support.client import ApiClient


class Payload(BaseModel):
    name: str = Field(min_length=1)
    amount: Decimal


@pytest.fixture
def client():
    bootstrap.configure(load_settings({"SCELLE_MAX_BODY_BYTES": "2048"}))
    app = Chalice(app_name="routing-test")
    bp = Blueprint(__name__)

    @endpoint(bp, "POST", "/things", summary="make a thing", body=Payload, public=True, status=201)
    def make(body: Payload):
        if body.name == "dup":
            raise Conflict("a thing with this name exists", field="name")
        if body.name == "boom":
            raise RuntimeError("internal detail that must not leak")
        return {"name": body.name, "amount": str(body.amount)}

    middleware.install(app)
    app.register_blueprint(bp)
    yield ApiClient(app)
    bootstrap.configure(load_settings({}))


def test_a_valid_body_is_parsed_and_the_status_is_the_declared_one(client):
    reply = client.post("/things", {"name": "a", "amount": "1.10"})
    assert reply.status == 201
    assert reply.json == {"name": "a", "amount": "1.10"}


def test_a_json_number_with_a_fraction_never_becomes_a_float(client):
    reply = client.post("/things", raw=b'{"name": "a", "amount": 0.1}')
    assert reply.status == 201
    assert reply.json["amount"] == "0.1"


def test_invalid_json_is_a_400_problem_naming_the_body(client):
    reply = client.post("/things", raw=b'{"name": ')
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json["field"] == "body"
    assert reply.json["type"].endswith("/bad-request")


def test_a_validation_error_names_the_field(client):
    reply = client.post("/things", {"name": "", "amount": "1"})
    assert reply.status == 422
    assert reply.json["field"] == "name"
    assert reply.json["errors"][0]["field"] == "name"


def test_a_missing_field_is_named(client):
    reply = client.post("/things", {"name": "x"})
    assert reply.status == 422
    assert reply.json["field"] == "amount"


def test_a_body_over_the_limit_is_a_413_problem(client):
    reply = client.post("/things", {"name": "x" * 5000, "amount": "1"})
    assert reply.status == 413
    assert reply.json["field"] == "body"


def test_a_wrong_content_type_is_a_415_problem(client):
    reply = client.post("/things", raw=b"name=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415
    assert reply.json["field"] == "Content-Type"


def test_a_domain_error_maps_to_its_status(client):
    reply = client.post("/things", {"name": "dup", "amount": "1"})
    assert reply.status == 409
    assert reply.json == {
        "type": "https://scelle.example/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "a thing with this name exists",
        "field": "name",
    }


def test_an_unexpected_error_is_a_500_problem_without_internals(client):
    reply = client.post("/things", {"name": "boom", "amount": "1"})
    assert reply.status == 500
    assert "internal detail" not in reply.body.decode()
    assert reply.json["type"].endswith("/internal")


def test_a_wrong_method_is_a_405_problem_with_allow(client):
    reply = client.get("/things")
    assert reply.status == 405
    assert reply.json["type"].endswith("/method-not-allowed")
    assert "POST" in reply.json["detail"]


def test_an_unknown_route_is_a_404_problem(client):
    reply = client.get("/nowhere")
    assert reply.status == 404
    assert reply.json["type"].endswith("/not-found")


def test_a_closure_mismatch_is_a_409_even_though_problems_does_not_import_closures():
    from chalicelib.api.problems import status_for
    from chalicelib.domain.closures import ClosureMismatch

    assert status_for(ClosureMismatch("a month differs from its days", field="vat_totals")) == 409


# --- problems: every problem listed, in the caller's words ------------------------------------------


def test_pydantic_s_value_error_prefix_never_reaches_a_problem():
    import json

    from pydantic import ValidationError, field_validator

    from chalicelib.api import problems
    from chalicelib.api.schemas import Amount, StrictModel

    class Line(StrictModel):
        unit_price: Amount
        quantity: int

        @field_validator("quantity")
        @classmethod
        def _positive(cls, value: int) -> int:
            if value <= 0:
                raise AssertionError("a quantity is positive")  # pydantic: "Assertion failed, ..."
            return value

    with pytest.raises(ValidationError) as caught:
        Line.model_validate({"unit_price": "5,00", "quantity": 0, "colour": "red"})
    body = json.loads(json.dumps(problems.from_validation_error(caught.value).body))
    assert body["errors"] == [
        {"field": "unit_price", "detail": "Amount '5,00' is written with a decimal comma; use a dot: 5.00."},
        {"field": "quantity", "detail": "a quantity is positive"},
        {"field": "colour", "detail": "Extra inputs are not permitted"},
    ]
    assert body["field"] == "unit_price"
    assert body["detail"] == ("unit_price: Amount '5,00' is written with a decimal comma; use a dot: 5.00. "
                              "(and 2 more problems: see errors)")
    assert "Value error" not in json.dumps(body) and "Assertion failed" not in json.dumps(body)


def test_a_domain_error_standing_for_several_lists_them_all():
    from chalicelib.api import problems
    from chalicelib.domain.errors import ValidationFailed

    gathered = ValidationFailed.gather([
        ValidationFailed("Description must not be empty.", field="lines.0.description"),
        ValidationFailed.gather([ValidationFailed("x", field="lines.1.quantity"),
                                 ValidationFailed("y", field="lines.1.vat_rate")]),
    ])
    reply = problems.from_scelle_error(gathered)
    assert reply.status_code == 422 and reply.headers["Content-Type"] == "application/problem+json"
    assert reply.body["field"] == "lines.0.description"
    assert [item["field"] for item in reply.body["errors"]] == ["lines.0.description", "lines.1.quantity",
                                                                "lines.1.vat_rate"]


def test_a_single_domain_error_is_listed_too():
    from chalicelib.api import problems
    from chalicelib.domain.errors import Conflict, ValidationFailed

    reply = problems.from_scelle_error(ValidationFailed("bad", field="register_id"))
    assert reply.body["errors"] == [{"field": "register_id", "detail": "bad"}]
    assert "errors" not in problems.from_scelle_error(Conflict("taken", field="email")).body
