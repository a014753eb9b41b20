import pytest

from chalicelib.config import ConfigError, load_settings


def test_defaults_describe_local_mode():
    settings = load_settings({})
    assert settings.mode == "local"
    assert settings.port == 8000
    assert settings.table_name("journal") == "scelle-local-journal"


def test_a_bad_variable_is_named_in_the_error():
    with pytest.raises(ConfigError) as err:
        load_settings({"SCELLE_PORT": "eighty", "SCELLE_MODE": "cloud"})
    message = str(err.value)
    assert "SCELLE_PORT" in message
    assert "SCELLE_MODE" in message
    assert "'eighty'" in message


def test_an_endpoint_must_be_a_url():
    with pytest.raises(ConfigError, match="SCELLE_AWS_ENDPOINT_URL"):
        load_settings({"SCELLE_AWS_ENDPOINT_URL": "localhost:5000"})


def test_the_mail_outbox_route_cannot_be_exposed_in_aws_mode():
    with pytest.raises(ConfigError, match="SCELLE_EXPOSE_OUTBOX"):
        load_settings({"SCELLE_MODE": "aws", "SCELLE_EXPOSE_OUTBOX": "true"})


def test_a_resource_prefix_with_uppercase_is_refused():
    with pytest.raises(ConfigError, match="SCELLE_RESOURCE_PREFIX"):
        load_settings({"SCELLE_RESOURCE_PREFIX": "Prod"})


def test_explicit_mapping_ignores_the_process_environment(monkeypatch):
    monkeypatch.setenv("SCELLE_PORT", "9999")
    assert load_settings({}).port == 8000
    assert load_settings().port == 9999
