"""A configuration mistake ends the command with one line naming the setting, and exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from emarsys_api import ClientSettings
from emarsys_sandbox import Sandbox
from emarsys_singer.config_sources import check_environment
from tap_emarsys.tap import TapEmarsys
from target_emarsys.target import TargetEmarsys
from tests.helpers.commands import CommandRun

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("fast_retries")]

#: the command `tap-emarsys` runs (`.cli` would add console log handlers per access)
TAP_CLI = TapEmarsys.get_singer_command()
TAP = str(Path(sys.executable).parent / "tap-emarsys")
WSSE = {"username": "api_user", "secret": "wsse-secret-value", "start_date": "2026-03-15"}

TAP_CASES: list[Any] = [
    pytest.param({}, "start_date", id="nothing"),
    pytest.param({"start_date": "2026-03-15"}, "client_id", id="no-credentials"),
    pytest.param({"start_date": "2026-03-15", "username": "u"}, "secret", id="username-only"),
    pytest.param({"start_date": "2026-03-15", "secret": "s"}, "username", id="secret-only"),
    pytest.param({"start_date": "2026-03-15", "client_id": "c"}, "client_secret", id="id-only"),
    pytest.param(
        {"start_date": "2026-03-15", "client_secret": "s"}, "client_id", id="client-secret-only"
    ),
    pytest.param({**WSSE, "start_date": "yesterday"}, "start_date", id="start-not-iso"),
    pytest.param({**WSSE, "start_date": 20260315}, "start_date", id="start-not-string"),
    pytest.param({**WSSE, "end_date": "2026-03-01"}, "end_date", id="end-before-start"),
    pytest.param({**WSSE, "start_date": "2999-01-01"}, "start_date", id="start-in-future"),
    pytest.param({**WSSE, "timezone": "Mars/Olympus_Mons"}, "timezone", id="unknown-zone"),
    pytest.param({**WSSE, "base_url": "ftp://api.emarsys.net"}, "base_url", id="base-url-ftp"),
    pytest.param({**WSSE, "base_url": 42}, "base_url", id="base-url-number"),
    pytest.param({**WSSE, "token_url": "auth"}, "token_url", id="token-url-relative"),
    pytest.param({**WSSE, "export_window_days": "seven"}, "export_window_days", id="days-text"),
    pytest.param({**WSSE, "export_window_days": 0}, "export_window_days", id="days-zero"),
    pytest.param({**WSSE, "max_concurrent_exports": 1.5}, "max_concurrent_exports", id="float"),
    pytest.param({**WSSE, "export_poll_interval": -1}, "export_poll_interval", id="negative"),
    pytest.param({**WSSE, "export_timeout": "1h"}, "export_timeout", id="timeout-text"),
    pytest.param({**WSSE, "contact_fields": "email"}, "contact_fields", id="fields-not-list"),
    pytest.param({**WSSE, "username": 7}, "username", id="username-number"),
    pytest.param({**WSSE, "base_url": "http://127.0.0.1:99999"}, "base_url", id="port-range"),
    pytest.param({**WSSE, "username": "api_user\r\nX: 1"}, "username", id="username-crlf"),
]


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"secret": 987654321}, id="number"),
        pytest.param({"secret": ["987654321"]}, id="list"),
        pytest.param({"client_id": "c", "client_secret": {"987654321": 1}}, id="object"),
    ],
)
@pytest.mark.parametrize("connector", ["tap", "target"])
def test_a_secret_of_the_wrong_type_is_named_not_shown(
    run_command: Any, tmp_path: Path, config: dict[str, Any], connector: str
) -> None:
    """jsonschema's message starts with the value; for a secret setting it is left out."""
    base = WSSE if connector == "tap" else TARGET_WSSE
    run = run_command(TAP_CLI if connector == "tap" else TARGET_CLI, {**base, **config}, tmp_path)
    setting = "client_secret" if "client_secret" in config else "secret"
    assert_one_line(run, f"`{setting}`", "987654321")


def assert_one_line(run: CommandRun, setting: str, *secrets: str) -> None:
    assert run.exit_code == 1, run.stderr
    assert run.exception is None, run.exception  # no traceback escaped
    assert "Traceback" not in run.stderr
    (line,) = run.error_lines
    assert setting in line
    for secret in secrets:
        assert secret not in run.stderr + run.stdout + line


@pytest.mark.parametrize(("config", "setting"), TAP_CASES)
@pytest.mark.parametrize("mode", [[], ["--discover"]], ids=["sync", "discover"])
def test_tap_config_mistake_is_one_line(
    run_command: Any, tmp_path: Path, config: dict[str, Any], setting: str, mode: list[str]
) -> None:
    run = run_command(TAP_CLI, config, tmp_path, *mode)
    assert_one_line(run, setting, "wsse-secret-value")
    assert '"RECORD"' not in run.stdout


def test_unknown_contact_field_lists_the_choices(
    run_command: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    config = sandbox.wsse_config(start_date="2026-03-15", contact_fields=["email", "shoe_size"])
    run = run_command(TAP_CLI, config, tmp_path, "--discover")
    assert_one_line(run, "contact_fields", sandbox.credentials["secret"])
    assert "shoe_size" in run.error_lines[0]


@pytest.mark.parametrize("mode", [[], ["--discover"], ["--test"]], ids=["sync", "discover", "test"])
def test_unreachable_base_url_names_host_and_setting(
    run_command: Any, tmp_path: Path, mode: list[str]
) -> None:
    config = {**WSSE, "base_url": "http://127.0.0.1:9", "timeout": 2}
    run = run_command(TAP_CLI, config, tmp_path, *mode)
    assert_one_line(run, "base_url", "wsse-secret-value")
    assert "127.0.0.1:9" in run.error_lines[0]


def test_both_credential_pairs_use_oauth2() -> None:
    settings = ClientSettings.from_config(
        {"username": "u", "secret": "s", "client_id": "c", "client_secret": "cs"}
    )
    assert settings.auth_scheme == "oauth2"


def test_real_command_prints_one_line_and_keeps_about_working(tmp_path: Path) -> None:
    """The installed console script, not just the click object: exit 1 and a single line."""
    (tmp_path / "config.json").write_text('{"start_date": "2026-03-15", "username": "u"}')
    proc = subprocess.run(
        [TAP, "--config", str(tmp_path / "config.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if " | " not in line]
    assert errors == [
        "Error: Invalid configuration: `username` is set but `secret` is missing (WSSE needs "
        "both). Fix the `secret` setting."
    ]
    about = subprocess.run([TAP, "--about", "--format", "json"], capture_output=True, timeout=60)
    assert about.returncode == 0
    assert b'"start_date"' in about.stdout


TARGET_CLI = TargetEmarsys.get_singer_command()
TARGET = str(Path(sys.executable).parent / "target-emarsys")
TARGET_WSSE = {"username": "api_user", "secret": "wsse-secret-value", "rds_connection": "demo"}
BEHAVIOR = {"type": "behavior", "provider": "p", "channel": "c", "campaign_type": "t"}

TARGET_CASES: list[Any] = [
    pytest.param({}, "client_id", id="no-credentials"),
    pytest.param({"username": "u"}, "secret", id="username-only"),
    pytest.param({"client_id": "c"}, "client_secret", id="id-only"),
    pytest.param({**TARGET_WSSE, "customer_id": "abc"}, "customer_id", id="customer-id-text"),
    pytest.param({**TARGET_WSSE, "max_parallel_requests": 0}, "max_parallel_requests", id="zero"),
    pytest.param({**TARGET_WSSE, "on_record_error": "ignore"}, "on_record_error", id="choice"),
    pytest.param({**TARGET_WSSE, "load_method": "merge"}, "load_method", id="load-method"),
    pytest.param({**TARGET_WSSE, "batch_size_rows": -5}, "batch_size_rows", id="batch-negative"),
    pytest.param({**TARGET_WSSE, "timeout": "soon"}, "timeout", id="timeout-text"),
    pytest.param({**TARGET_WSSE, "base_url": "ftp://x"}, "base_url", id="base-url-ftp"),
    pytest.param(
        {**TARGET_WSSE, "stream_destinations": {"s": {"type": "nope"}}},
        "stream_destinations",
        id="destination-type",
    ),
    pytest.param(
        {**TARGET_WSSE, "stream_destinations": {"s": {"type": "relational", "tabel": "x"}}},
        "'tabel'",
        id="destination-unknown-key",
    ),
    pytest.param(
        {
            **TARGET_WSSE,
            "stream_destinations": {"s": {"type": "relational", "via": "sftp"}},
            "rds_sftp_host": "sftp://u:wsse-secret-value@h",  # the password must not show
            **{"rds_sftp_username": "u", "rds_sftp_password": "p", "rds_sftp_folder": "/x"},
        },
        "rds_sftp_host",
        id="sftp-host-url",
    ),
    pytest.param(
        {**TARGET_WSSE, "on_record_error": "log", "rejected_rows_path": "/"},
        "rejected_rows_path",
        id="rejects-path-directory",
    ),
    pytest.param(
        {**TARGET_WSSE, "stream_destinations": {"s": {**BEHAVIOR, "event_type": "e"}}},
        "customer_id",
        id="behavior-without-customer-id",
    ),
    pytest.param(
        {
            **TARGET_WSSE,
            "customer_id": "\u0661\u0662",  # Arabic-Indic digits pass `\\d` and str.isdigit
            "stream_destinations": {"s": {**BEHAVIOR, "event_type": "e"}},
        },
        "customer_id",
        id="customer-id-unicode-digits",
    ),
]


@pytest.mark.parametrize(("config", "setting"), TARGET_CASES)
def test_target_config_mistake_is_one_line(
    run_command: Any, tmp_path: Path, config: dict[str, Any], setting: str
) -> None:
    run = run_command(TARGET_CLI, config, tmp_path)
    assert_one_line(run, setting, "wsse-secret-value")


def test_a_negative_flattening_depth_with_flattening_off_is_not_read(
    run_command: Any, tmp_path: Path
) -> None:
    """The SDK reads the depth only when flattening is on; -1 is its own "unset"."""
    run = run_command(TARGET_CLI, {**TARGET_WSSE, "flattening_max_depth": -1}, tmp_path)
    assert run.exit_code == 0, run.stderr


@pytest.mark.parametrize(
    ("connector", "config", "said"),
    [
        pytest.param(
            "target",
            {"load_method": "nope"},
            "'nope' is not one of ['append-only', 'upsert', 'overwrite'] in config['load_method']",
            id="load-method-choices-as-text",
        ),
        pytest.param(
            "tap",
            {"flattening_max_depth": -1, "flattening_enabled": True},
            "`flattening_max_depth` must be 0 or more (how many levels of nested objects to "
            "flatten into columns), got -1.",
            id="flattening-depth-minus-one",
        ),
        pytest.param(
            "target",
            {"flattening_max_depth": -2, "flattening_enabled": True},
            "`flattening_max_depth` must be 0 or more",
            id="flattening-depth-negative",
        ),
        pytest.param(
            "target",
            {"stream_maps": {"a": {"x": "name"}, "b": {"y": "name +"}}},
            "stream_maps['b']['y'] = 'name +' is not a Python expression (invalid syntax).",
            id="stream-map-expression-unparsable",
        ),
        pytest.param(
            "target",
            {"stream_maps": {"s": {"__else__": "x"}}},
            "stream_maps['s']['__else__'] is 'x'; the only choice is null or '__NULL__'",
            id="stream-map-else-of-a-stream",
        ),
        pytest.param(
            "target",
            {"stream_maps": {"new": {"__source__": "s", "__alias__": "a b"}}},
            "stream_maps['new'] has both `__source__` and `__alias__`",
            id="stream-map-source-and-alias",
        ),
        pytest.param(
            "tap",
            {"stream_maps": {"__else__": "x"}},
            "stream_maps['__else__'] is 'x'; the only choice is null or '__NULL__', which "
            "drops every stream not named",
            id="stream-maps-else",
        ),
        pytest.param(
            "target",
            {"flattening_enabled": True},
            "`flattening_enabled` is on, so `flattening_max_depth` must be set to 0 or more",
            id="flattening-depth-missing",
        ),
        pytest.param(
            "tap",
            {"stream_maps": {"contact_changes": {"email": 5}}},
            "config['stream_maps']['contact_changes']: a stream's entry is null or '__NULL__' "
            "(drop the stream), or an object mapping each property to an expression (text)",
            id="stream-map-entry-shape",
        ),
    ],
)
def test_an_sdk_setting_mistake_says_what_is_wanted(
    run_command: Any, tmp_path: Path, connector: str, config: dict[str, Any], said: str
) -> None:
    """The SDK's own messages printed an enum's repr, called a depth of -1 missing (and took
    -2 for 0), said only "not valid under any of the given schemas" of a stream map entry,
    named no entry for an expression Python cannot parse and answered an `__else__` of text
    with a traceback."""
    base, cli = (WSSE, TAP_CLI) if connector == "tap" else (TARGET_WSSE, TARGET_CLI)
    run = run_command(cli, {**base, **config}, tmp_path)
    assert_one_line(run, next(iter(config)), "wsse-secret-value")
    assert said in run.error_lines[0]
    assert "<" not in run.error_lines[0]


def test_target_unreachable_base_url_is_one_line(tmp_path: Path) -> None:
    config = {**TARGET_WSSE, "base_url": "http://127.0.0.1:9", "max_retries": 0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    lines = [
        {
            "type": "SCHEMA",
            "stream": "t",
            "schema": {"properties": {"id": {"type": "integer"}}},
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "t", "record": {"id": 1}},
    ]
    proc = subprocess.run(
        [TARGET, "--config", str(tmp_path / "config.json")],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "127.0.0.1:9" in errors[0] and "base_url" in errors[0]
    assert "Traceback" not in proc.stderr
    assert "wsse-secret-value" not in proc.stderr


CONFIG_FILES: list[Any] = [
    pytest.param('{"base_url": ', "is not JSON (Expecting value at line 1 column 14)", id="cut"),
    pytest.param("", "is empty", id="empty"),
    pytest.param("[1, 2]", "holds a JSON list", id="list"),
    pytest.param(b"\xff\xfe{}", "is not UTF-8 text", id="not-utf8"),
    pytest.param(None, "does not exist", id="missing"),
    pytest.param("folder", "is a folder", id="folder"),
]


@pytest.mark.parametrize(("content", "problem"), CONFIG_FILES)
@pytest.mark.parametrize("connector", ["tap", "target"])
def test_a_bad_config_file_is_named_in_one_line(
    tmp_path: Path, content: str | bytes | None, problem: str, connector: str
) -> None:
    """Each was a JSON-decoding, FileNotFoundError or IsADirectoryError traceback."""
    path = tmp_path / "settings.json"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = CliRunner().invoke(
        TAP_CLI if connector == "tap" else TARGET_CLI, ["--config", str(path)]
    )
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert f"the config file {path} {problem}" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("connector", "variable", "value", "problem"),
    [
        ("tap", "TAP_EMARSYS_EXPORT_WINDOW_DAYS", "abc", "must be a whole number, got 'abc'"),
        ("tap", "TAP_EMARSYS_MAX_RETRIES", "x", "must be a whole number"),
        ("target", "TARGET_EMARSYS_STREAM_DESTINATIONS", "{bad", "must be a JSON object"),
        ("target", "TARGET_EMARSYS_MAX_PARALLEL_REQUESTS", "four", "must be a whole number"),
    ],
)
def test_an_environment_setting_that_does_not_convert_is_named(
    monkeypatch: pytest.MonkeyPatch, connector: str, variable: str, value: str, problem: str
) -> None:
    """`--config ENV`: the SDK's `int()` or JSON parse of the variable was a traceback."""
    prefix = "TAP_EMARSYS_" if connector == "tap" else "TARGET_EMARSYS_"
    for name, setting in {**WSSE, variable.removeprefix(prefix).lower(): value}.items():
        monkeypatch.setenv(prefix + name.upper(), str(setting))
    result = CliRunner().invoke(TAP_CLI if connector == "tap" else TARGET_CLI, ["--config", "ENV"])
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert f"the environment variable {variable}" in line
    assert problem in line
    assert "wsse-secret-value" not in result.stderr


def test_a_secret_in_the_environment_is_not_shown_when_it_does_not_convert(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = {"properties": {"token": {"type": "object", "secret": True, "writeOnly": True}}}
    plugin = type("Plugin", (), {"name": "tap-x", "config_jsonschema": schema})
    monkeypatch.setenv("TAP_X_TOKEN", "s3cr3t{")
    with pytest.raises(click.BadParameter) as caught:
        check_environment(plugin)
    assert "TAP_X_TOKEN" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


MAPPED_INPUT = "\n".join(
    [
        '{"type":"SCHEMA","stream":"t","schema":{"type":"object","properties":{"id":'
        '{"type":"integer"},"name":{"type":["string","null"]}}},"key_properties":["id"]}',
        '{"type":"RECORD","stream":"t","record":{"id":1,"name":"abc"}}',
        "",
    ]
)


@pytest.mark.parametrize(
    ("expression", "raised"),
    [
        ("int(name)", "ValueError: invalid literal for int()"),
        ("1/0", "ZeroDivisionError"),
        ("name.no_such_method()", "AttributeDoesNotExist"),
    ],
)
def test_target_stream_map_failing_on_a_record_names_it(
    run_command: Any, tmp_path: Path, expression: str, raised: str
) -> None:
    """The SDK names only an expression it cannot parse; one that fails on a record's values
    raised whatever Python raised, as a traceback."""
    config = {**TARGET_WSSE, "stream_maps": {"t": {"y": expression}}}
    run = run_command(TARGET_CLI, config, tmp_path, stdin=MAPPED_INPUT)
    assert_one_line(run, "input line 2: stream 't'", "wsse-secret-value")
    assert "`stream_maps`" in run.error_lines[0]
    assert raised in run.error_lines[0]


def test_a_config_file_with_a_byte_order_mark_is_read_as_the_sdk_reads_it(tmp_path: Path) -> None:
    """Windows editors write one; the SDK's JSON reader skips it, so the check does too."""
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**WSSE, "start_date": "2999-01-01"}).encode())
    result = CliRunner().invoke(TAP_CLI, ["--config", str(path)])
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert "start_date '2999-01-01' is in the future" in line  # read, then checked


def test_a_text_or_number_setting_from_the_environment_says_where_text_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`member_key_field` takes text or a field id; the SDK reads the variable with int()."""
    for name, value in {**WSSE, "member_key_field": "email"}.items():
        monkeypatch.setenv("TAP_EMARSYS_" + name.upper(), str(value))
    result = CliRunner().invoke(TAP_CLI, ["--config", "ENV"])
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert "TAP_EMARSYS_MEMBER_KEY_FIELD" in line
    assert "give a text value in a --config file instead" in line


def test_a_config_piped_on_standard_input_is_read_once(tmp_path: Path) -> None:
    """`--config /dev/stdin` (as Meltano tests do): checking it must not use it up."""
    config = json.dumps({**WSSE, "start_date": "2999-01-01"})
    piped = subprocess.run(
        [TAP, "--config", "/dev/stdin"], input=config, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in piped.stderr
    assert "start_date '2999-01-01' is in the future" in piped.stderr  # read, then checked
