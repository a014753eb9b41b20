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


# --- every bad setting names its variable and what it allows, one line each ----------------------

BAD_SETTINGS = [
    ("SCELLE_MODE", "cloud", "local or aws"),
    ("SCELLE_STAGE", "Prod!", "lower-case letters"),
    ("SCELLE_REGION", "europe", "an AWS region such as eu-west-1"),
    ("SCELLE_AWS_ENDPOINT_URL", "localhost:5000", "http:// or https://"),
    ("SCELLE_RESOURCE_PREFIX", "Prod", "lower-case letters"),
    ("SCELLE_SIGNING_KEY_ID", " ", "is empty: unset it"),
    ("SCELLE_DATA_KEY_ID", "", "is empty: unset it"),
    ("SCELLE_WRITE_PROOF_KEY_ID", "", "is empty: unset it"),
    ("SCELLE_WITNESS_KEY_ID", "", "is empty: unset it"),
    ("SCELLE_WITNESS_FUNCTION", "my function", "a Lambda function name"),
    ("SCELLE_SIGNER_FUNCTION", "sign/now", "a Lambda function name"),
    ("SCELLE_WRITE_PROOF_RETIRED_KEY_IDS", "alias/old", "comma-separated KMS key ARNs"),
    ("SCELLE_LOCAL_KEY_DIR", "", "is empty: unset it"),
    ("SCELLE_USER_POOL_ID", "", "is empty: unset it"),
    ("SCELLE_USER_POOL_CLIENT_ID", "", "is empty: unset it"),
    ("SCELLE_MAIL_FROM", "no-reply", "email address"),
    ("SCELLE_OPERATOR_EMAIL", "ops@scelle.example, oncall", "'oncall' is not an email address"),
    ("SCELLE_PUBLIC_BASE_URL", "scelle.example", "http:// or https://"),
    ("SCELLE_CHECKPOINT_EVERY", "0", "a whole number from 1 to 100000"),
    ("SCELLE_MAX_BODY_BYTES", "1 MB", "a whole number from 1024 to 10485760"),
    ("SCELLE_CLOCK_SKEW_SECONDS", "-1", "a whole number from 0 to 3600"),
    ("SCELLE_LOG_LEVEL", "verbose", "one of DEBUG, INFO, WARNING, ERROR"),
    ("SCELLE_EXPOSE_OUTBOX", "maybe", "true or false"),
    ("SCELLE_HOST", "999.1.1.1", "an IP address or a host name"),
    ("SCELLE_HOST", "my host", "an IP address or a host name"),
    ("SCELLE_PORT", "abc", "a port number from 1 to 65535"),
    ("SCELLE_PORT", "99999", "a port number from 1 to 65535"),
    ("SCELLE_MOTO_PORT", "-1", "or 0 to let scelle local choose"),
    ("SCELLE_DATA_DIR", "", "is empty: unset it to use the default ('.scelle')"),
    ("SCELLE_SCHEDULE_SECONDS", "nan", "more than 0 and at most 86400"),
    ("SCELLE_SCHEDULE_SECONDS", "0", "more than 0 and at most 86400"),
    ("SCELLE_PUMP_INTERVAL_SECONDS", "inf", "more than 0 and at most 60"),
    ("SCELLE_LOG_FORMAT", "yaml", "text or json"),
    ("SCELLE_LOCAL_METRICS", "maybe", "true or false"),
]


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS, ids=[f"{v}={x!r}" for v, x, _ in BAD_SETTINGS])
def test_every_bad_setting_is_one_line_naming_the_variable_and_what_it_allows(variable, value, allowed):
    with pytest.raises(ConfigError) as err:
        load_settings({variable: value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(variable), message
    assert allowed in message, message


def test_every_setting_is_covered_by_a_bad_value_above():
    from chalicelib.config import Settings

    covered = {variable for variable, _, _ in BAD_SETTINGS}
    # SCELLE_UNSUBSCRIBE_KEY is checked where it is used, and by `scelle local` at start (below)
    assert {f"SCELLE_{name.upper()}" for name in Settings.model_fields} - covered == {"SCELLE_UNSUBSCRIBE_KEY"}


def test_several_bad_settings_give_one_line_each():
    with pytest.raises(ConfigError) as err:
        load_settings({"SCELLE_PORT": "abc", "SCELLE_LOG_LEVEL": "verbose", "SCELLE_DATA_DIR": ""})
    lines = str(err.value).splitlines()
    assert sorted(line.split("=")[0].split(" ")[0] for line in lines) == [
        "SCELLE_DATA_DIR", "SCELLE_LOG_LEVEL", "SCELLE_PORT"]


def test_an_empty_unsubscribe_key_is_unset_so_that_a_blank_secret_stops_only_the_mailings():
    assert load_settings({"SCELLE_UNSUBSCRIBE_KEY": ""}).unsubscribe_key is None


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("SCELLE_LOG_LEVEL", "debug", "DEBUG"),
        ("SCELLE_LOG_LEVEL", " Warning ", "WARNING"),
        ("SCELLE_HOST", "localhost", "localhost"),
        ("SCELLE_HOST", "::1", "::1"),
        ("SCELLE_MAIL_FROM", "Scellé <no-reply@scelle.example>", "Scellé <no-reply@scelle.example>"),
        ("SCELLE_OPERATOR_EMAIL", "", ""),
        ("SCELLE_OPERATOR_EMAIL", "a@scelle.example, b@scelle.example", "a@scelle.example, b@scelle.example"),
        ("SCELLE_LOG_FORMAT", " JSON ", "json"),
        ("SCELLE_LOCAL_METRICS", "1", True),
    ],
)
def test_good_values_in_their_usual_spellings_are_accepted(variable, value, read):
    settings = load_settings({variable: value})
    assert getattr(settings, variable.removeprefix("SCELLE_").lower()) == read


# --- the scelle command: a bad setting is a message and exit code 2, never a traceback ----------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"SCELLE_LOG_LEVEL": "verbose"}, "SCELLE_LOG_LEVEL='verbose' is not valid: expected one of DEBUG"),
        ({"SCELLE_PORT": "abc"}, "SCELLE_PORT='abc' is not valid: expected a port number from 1 to 65535"),
        ({"SCELLE_SUPPORT_TARGET_MINUTES": "two hours"}, "SCELLE_SUPPORT_TARGET_MINUTES: must be a whole number"),
        ({"SCELLE_MAILING_RATE": "fast"}, "SCELLE_MAILING_RATE: must be a number of mails per second"),
        ({"SCELLE_UNSUBSCRIBE_KEY": "00" * 16}, "SCELLE_UNSUBSCRIBE_KEY: at least 32 bytes are needed"),
        ({"SCELLE_UNSUBSCRIBE_KEY": "not a key!"}, "SCELLE_UNSUBSCRIBE_KEY: not hex or base64"),
    ],
)
def test_scelle_local_with_a_bad_setting_prints_one_line_and_exits_2(tmp_path, environ, expected):
    # A fresh process: SCELLE_LOG_LEVEL is read when the logger is first imported.
    import os
    import subprocess
    import sys

    env = {**os.environ, **environ, "SCELLE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", "import sys; from chalicelib.cli import main; sys.exit(main())",
                           "local", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"scelle local: {expected}"), done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything starts


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--port", "0", "argument --port: '0' is not valid: expected a port number from 1 to 65535"),
        ("--port", "http", "argument --port: 'http' is not valid"),
        ("--schedule-seconds", "nan", "argument --schedule-seconds: 'nan' is not valid"),
        ("--snapshot-seconds", "-1", "argument --snapshot-seconds: '-1' is not valid"),
        ("--data-dir", "", "argument --data-dir: '' is not valid: it is empty"),
        ("--log-format", "yaml", "argument --log-format: 'yaml' is not valid: expected text or json"),
    ],
)
def test_scelle_local_options_follow_the_rules_of_their_variables(capsys, option, value, expected):
    from chalicelib.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["local", option, value])
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err


def test_any_subcommand_reports_a_config_error_in_one_line_per_variable(capsys, monkeypatch):
    import argparse

    from chalicelib import cli

    def broken(args):
        load_settings({"SCELLE_PORT": "abc", "SCELLE_MODE": "cloud"})

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(argparse, broken))
    assert cli.main(["demo"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "scelle demo: SCELLE_MODE='cloud' is not valid: expected local or aws",
        "scelle demo: SCELLE_PORT='abc' is not valid: expected a port number from 1 to 65535",
    ]


def _parser_running(argparse, func):
    parser = argparse.ArgumentParser(prog="scelle")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo").set_defaults(func=func)
    return parser
