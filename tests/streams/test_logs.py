"""Log lines: text and JSON formatters, secrets masked, no escape codes off a terminal, the
libraries' chatter kept down."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.streams import logs
from restrictwatch.streams.cli import build_parser


def record(
    message: str = "hello %s",
    args: tuple[Any, ...] = ("world",),
    level: int = logging.INFO,
    name: str = "restrictwatch.worker",
    **extra: Any,
) -> logging.LogRecord:
    r = logging.LogRecord(name, level, __file__, 1, message, args, None)
    r.created = 1702825800.123  # 2023-12-17T15:10:00.123Z
    r.__dict__.update(extra)
    return r


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def configured() -> Iterator[Any]:
    """`configure(...)` into a buffer; the logging set-up is put back afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("restrictwatch").level)

    def configure(level: str = "info", log_format: str = "text") -> io.StringIO:
        stream = io.StringIO()
        logs.configure(level, log_format, stream)
        return stream

    yield configure
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    logging.getLogger("restrictwatch").setLevel(saved[2])


def test_a_text_line_has_time_level_logger_message_and_fields() -> None:
    line = logs.TextFormatter().format(record(event_id="rw-PK-1", seq=0, note="two words"))
    assert line == (
        "2023-12-17T15:10:00.123Z INFO restrictwatch.worker: hello world "
        'event_id=rw-PK-1 seq=0 note="two words"'
    )


def test_a_text_line_leaves_out_fields_its_message_already_says() -> None:
    line = logs.TextFormatter().format(record("config reloaded: %s", ("v2@abc",), config="v2@abc"))
    assert line.endswith("config reloaded: v2@abc")
    line = logs.TextFormatter().format(record("(%d countries)", (0,), countries=0))
    assert line.endswith("(0 countries)")
    line = logs.TextFormatter().format(record("event rw-PK-1-0e33", (), seq=0))
    assert line.endswith("event rw-PK-1-0e33 seq=0")


def test_a_json_line_is_one_object_with_ts_level_logger_message_and_fields() -> None:
    line = logs.JsonFormatter().format(
        record(level=logging.WARNING, event_id="rw-PK-1", settings={"partitions": 4})
    )
    assert "\n" not in line
    assert orjson.loads(line) == {
        "ts": "2023-12-17T15:10:00.123Z",
        "level": "warning",
        "logger": "restrictwatch.worker",
        "message": "hello world",
        "event_id": "rw-PK-1",
        "settings": {"partitions": 4},
    }


def test_a_json_line_carries_the_traceback_of_an_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        r = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    doc = orjson.loads(logs.JsonFormatter().format(r))
    assert doc["message"] == "failed" and "ValueError: boom" in doc["exc"]


def test_a_value_it_cannot_serialise_is_written_as_text() -> None:
    doc = orjson.loads(logs.JsonFormatter().format(record(where=object)))
    assert doc["where"] == str(object)


@pytest.mark.parametrize("formatter", [logs.TextFormatter(), logs.JsonFormatter()])
def test_fields_named_like_secrets_are_masked_at_any_depth(formatter: logging.Formatter) -> None:
    line = formatter.format(
        record(
            settings={
                "sasl_password": "hunter2",
                "sasl_username": "alice",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_password_file": "/run/secrets/kafka",
                "nested": {"api_token": "t0k3n", "client_secret": "s3"},
                "unset_password": None,
            },
            password="hunter2",
        )
    )
    for secret in ("hunter2", "alice", "t0k3n", 's3"'):
        assert secret not in line
    assert "SCRAM-SHA-512" in line and "/run/secrets/kafka" in line
    assert line.count(logs.MASK) == 5


def test_no_escape_codes_off_a_terminal_not_even_a_librarys() -> None:
    r = record("\x1b[31mred\x1b[0m and \x1b[?25h", (), level=logging.ERROR)
    for formatter in (logs.TextFormatter(colour=False), logs.JsonFormatter()):
        assert "\x1b" not in formatter.format(r)
        assert "red and" in formatter.format(r)


def test_levels_are_coloured_only_on_a_terminal(configured: Any) -> None:
    tty = Tty()
    config = logs.logging_config("info", "text", tty)
    assert config["formatters"]["restrictwatch"]["colour"] is True
    assert (
        logs.logging_config("info", "text", io.StringIO())["formatters"]["restrictwatch"]["colour"]
        is False
    )
    logging.config.dictConfig(config)
    logging.getLogger("restrictwatch.worker").warning("careful")
    assert "\x1b[33mWARNING\x1b[0m" in tty.getvalue()


def test_our_lines_at_info_the_libraries_at_warning(configured: Any) -> None:
    stream = configured("info")
    logging.getLogger("restrictwatch.worker").info("ours")
    logging.getLogger("faust.transport.consumer").info("Timer commit woke up too late")
    logging.getLogger("aiokafka").info("chatter")
    logging.getLogger("mode.timers").warning("a library's warning")
    text = stream.getvalue()
    assert "ours" in text and "a library's warning" in text
    assert "too late" not in text and "chatter" not in text


def test_debug_shows_the_libraries_too(configured: Any) -> None:
    stream = configured("debug")
    logging.getLogger("aiokafka").debug("chatter")
    logging.getLogger(logs.STARTUP_CHATTER[1][0]).warning(
        "Marking the coordinator dead (node %s)for group %s.", 1, "g"
    )
    assert "chatter" in stream.getvalue() and "coordinator dead" in stream.getvalue()


def test_a_quieter_level_quiets_everything(configured: Any) -> None:
    stream = configured("error")
    logging.getLogger("restrictwatch.worker").warning("ours")
    logging.getLogger("faust").warning("theirs")
    logging.getLogger("restrictwatch.worker").error("an error")
    assert stream.getvalue().count("\n") == 1 and "an error" in stream.getvalue()


def test_the_coordinator_chatter_of_a_normal_start_is_left_out(configured: Any) -> None:
    stream = configured("info")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", "[Error 15] Not available")
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "rw")
    coordinator.error("Something else went wrong")
    assert stream.getvalue().count("\n") == 1 and "Something else" in stream.getvalue()


def test_json_logs_from_the_environment_or_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = build_parser()
    monkeypatch.delenv(logs.LOG_FORMAT_ENV, raising=False)
    assert logs.format_of(parser.parse_args(["worker"])) == "text"
    assert logs.format_of(parser.parse_args(["worker", "--log-format", "json"])) == "json"
    monkeypatch.setenv(logs.LOG_FORMAT_ENV, "JSON")
    assert logs.format_of(parser.parse_args(["worker"])) == "json"
    assert logs.format_of(parser.parse_args(["worker", "--log-format", "text"])) == "text"


def test_the_worker_logs_at_info_by_default_and_takes_any_case() -> None:
    parser = build_parser()
    assert parser.parse_args(["worker"]).loglevel == "info"
    assert parser.parse_args(["worker", "--loglevel", "DEBUG"]).loglevel == "debug"
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "--loglevel", "loud"])


def test_a_bad_log_format_in_the_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="RW_LOG_FORMAT"):
        logs.logging_config("info", "yaml")


def test_the_librarys_puzzling_warnings_say_what_they_mean(configured: Any) -> None:
    stream = configured("info")
    logging.getLogger("mode.timers").warning(
        "Timer %s is overlapping (interval=%r runtime=%r)", "commit", 1.0, 2.5
    )
    logging.getLogger("faust.transport.producer").warning("producer buffer full size 1001")
    overlapping, full = stream.getvalue().splitlines()
    assert "Timer commit is overlapping (interval=1.0 runtime=2.5) (one run of this timer" in (
        overlapping
    )
    assert "producer buffer full size 1001 (more messages wait for the broker" in full
    assert " WARNING " in overlapping and " WARNING " in full
