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
