import pytest

pytestmark = pytest.mark.functional


def test_health_is_ok_when_every_table_answers(api):
    reply = api.get("/health")
    assert reply.status == 200, reply
    assert reply.json["status"] == "ok"
    assert all(state == "ok" for state in reply.json["checks"].values())
    assert len(reply.json["checks"]) >= 7


def test_health_is_a_503_problem_when_tables_are_missing(stack):
    from app import app
    from chalicelib import bootstrap
    from tests.support.client import ApiClient

    bootstrap.configure(stack.settings.model_copy(update={"resource_prefix": "nothing-here"}))
    try:
        reply = ApiClient(app).get("/health")
    finally:
        bootstrap.configure(stack.settings)
    assert reply.status == 503
    assert reply.json["type"].endswith("/unavailable")
    assert "nothing-here-journal" in reply.json["detail"]


def test_openapi_describes_every_registered_route(api):
    from app import app

    doc = api.get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    registered = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert described == registered
    assert "Problem" in doc["components"]["schemas"]


def test_a_protected_route_without_token_is_a_401_problem(api):
    from app import app

    protected = [
        (path, method)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None
    ]
    if not protected:
        pytest.skip("no protected route registered yet")
    path, method = protected[0]
    concrete = path.replace("{tenant_id}", "t-unknown").replace("{", "").replace("}", "")
    reply = api.request(method, concrete, {} if method in ("POST", "PUT") else None)
    assert reply.status == 401
    assert reply.json["type"].endswith("/unauthenticated")


def test_an_invalid_token_is_a_401_problem(api):
    from app import app

    protected = [
        (path, method)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if entry.authorizer is not None and method == "GET"
    ]
    if not protected:
        pytest.skip("no protected GET route registered yet")
    path = protected[0][0].replace("{tenant_id}", "t-unknown").replace("{", "").replace("}", "")
    reply = api.with_token("not-a-jwt").get(path)
    assert reply.status == 401
    assert "invalid or expired" in reply.json["detail"]
