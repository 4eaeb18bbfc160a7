"""Log lines for operators: plain text or one JSON object per line, secrets masked, and the
libraries' own chatter (Faust, mode, aiokafka, kafka-python) kept at WARNING unless debugging."""

from __future__ import annotations

import logging
import logging.config
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from restrictwatch.detectors.exceptions import ConfigError

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMAT_ENV = "RW_LOG_FORMAT"
# Our own loggers are all under this name; every other logger is a library's.
OWN_LOGGER = "restrictwatch"
MASK = "**********"
# A field whose name says it holds a credential is masked wherever it turns up in a log line,
# even if the code that logged it forgot (settings keep secrets as SecretStr besides). A file
# that holds one is only its path, and the SASL mechanism is no secret.
_SECRET_NAME = re.compile(r"password|secret|token|credential|sasl_(?!mechanism)", re.IGNORECASE)
_NOT_SECRET_NAME = re.compile(r"_file$|_path$", re.IGNORECASE)
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Attributes every LogRecord has: anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)
_LEVEL_COLOURS = {
    "DEBUG": "\x1b[2m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def masked(value: Any, name: str = "") -> Any:
    """`value` with every field named like a secret replaced by MASK (None stays None: that no
    secret is set is worth seeing)."""
    if name and is_secret(name) and value is not None:
        return MASK
    if isinstance(value, Mapping):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with `extra=`, secrets masked."""
    return {
        k: masked(v, k)
        for k, v in record.__dict__.items()
        if k not in _RECORD_FIELDS and not k.startswith("_")
    }


def timestamp(record: logging.LogRecord) -> str:
    """RFC 3339 in UTC to the millisecond: `2023-12-17T15:10:00.123Z`."""
    when = datetime.fromtimestamp(record.created, UTC)  # rounded to the microsecond
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def strip_escapes(text: str) -> str:
    """`text` without terminal escape sequences (colours, cursor moves)."""
    return _ESCAPES.sub("", text)


def _said(value: Any, message: str) -> bool:
    """Whether `message` already shows `value`: a string anywhere, a number as a word."""
    if isinstance(value, str):
        return value in message
    if isinstance(value, int | float) and not isinstance(value, bool):
        return re.search(rf"(?<![\w.]){re.escape(str(value))}(?![\w.])", message) is not None
    return False


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not re.search(r"[\s\"=]", value):
        return value
    return orjson.dumps(value, default=str).decode()


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: message key=value ...`; level colours only on a terminal, and no
    escape codes at all otherwise (not even those a library put in its message)."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        # Fields the message already says are left out: the JSON format has them all.
        fields = {k: v for k, v in extra_fields(record).items() if not _said(v, message)}
        if fields:
            message += " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            message += "\n" + self.formatStack(record.stack_info)
        level = record.levelname
        if self.colour and level in _LEVEL_COLOURS:
            level = f"{_LEVEL_COLOURS[level]}{level}\x1b[0m"
        line = f"{timestamp(record)} {level} {record.name}: {message}"
        return line if self.colour else strip_escapes(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: ts, level, logger, message, the fields given
    with `extra=` (secrets masked) and, for an exception, its traceback as `exc`."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": strip_escapes(record.getMessage()),
        }
        for k, v in extra_fields(record).items():
            doc.setdefault(k, v)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


# What aiokafka says at ERROR and WARNING on every normal start, while the broker creates its
# offsets topic and elects a coordinator for a new group: shown only when debugging. A group
# that never gets a coordinator stays unready (rw_worker_ready 0, no "partitions assigned" line).
STARTUP_CHATTER = (
    ("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed"),
    ("aiokafka.consumer.group_coordinator", "Marking the coordinator dead"),
)


class StartupChatter(logging.Filter):
    """Drops the libraries' start-up lines listed in STARTUP_CHATTER."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(
            record.name == name and str(record.msg).startswith(start)
            for name, start in STARTUP_CHATTER
        )


# Warnings of the libraries that say nothing to an operator as they stand: what they mean.
EXPLANATIONS = (
    (
        "mode.timers",
        "Timer %s is overlapping",
        "one run of this timer took longer than its interval: the event loop was busy (a large"
        " batch, a slow broker, a long checkpoint); harmless now and then, a worker falling"
        " behind if it goes on (rw_record_processing_seconds, consumer lag)",
    ),
    (
        "faust.transport.producer",
        "producer buffer full",
        "more messages wait for the broker than Faust buffers: processing pauses until they"
        " are sent (back-pressure from a slow or distant broker; nothing is lost)",
    ),
)


class Explained(logging.Filter):
    """Appends what it means to each library warning listed in EXPLANATIONS."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, start, meaning in EXPLANATIONS:
            text = str(record.msg)
            # a record may pass through more than one handler: explained once
            if record.name == name and text.startswith(start) and meaning not in text:
                record.msg = f"{text} ({meaning})"
        return True


def library_level(level: str) -> str:
    """The libraries' level: WARNING unless debugging (or a quieter level was asked)."""
    number = logging.getLevelName(level.upper())
    return level.upper() if level == "debug" or number > logging.WARNING else "WARNING"


def logging_config(
    level: str = "info", log_format: str = "text", stream: IO[str] | None = None
) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: our loggers at `level`, the libraries' at
    `library_level(level)`, one handler on `stream` (stderr)."""
    if level not in LOG_LEVELS:
        raise ConfigError(f"--loglevel: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"{LOG_FORMAT_ENV} / --log-format: {log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    stream = stream if stream is not None else sys.stderr
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"()": TextFormatter, "colour": _is_terminal(stream)}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"restrictwatch": formatter},
        "filters": {"startup": {"()": StartupChatter}, "explained": {"()": Explained}},
        "handlers": {
            "restrictwatch": {
                "class": "logging.StreamHandler",
                "formatter": "restrictwatch",
                "stream": stream,
                "filters": ["explained"] if level == "debug" else ["startup", "explained"],
            }
        },
        "loggers": {OWN_LOGGER: {"level": level.upper(), "propagate": True}},
        "root": {"level": library_level(level), "handlers": ["restrictwatch"]},
    }


def configure(level: str = "info", log_format: str = "text", stream: IO[str] | None = None) -> None:
    """Set up logging for a long-running command (the worker does it through Faust's Worker)."""
    logging.config.dictConfig(logging_config(level, log_format, stream))


def default_log_format() -> str:
    """`RW_LOG_FORMAT` if set, else text."""
    return os.environ.get(LOG_FORMAT_ENV, "").strip().lower() or "text"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def add_arguments(parser: Any, default_level: str = "info") -> None:
    """`--loglevel` and `--log-format` on a command's parser."""
    parser.add_argument(
        "--loglevel",
        default=default_level,
        choices=LOG_LEVELS,
        type=str.lower,
        help=f"our log level (default {default_level}); the libraries' stay at warning unless"
        " it is debug",
    )
    parser.add_argument(
        "--log-format",
        default=None,
        choices=LOG_FORMATS,
        help=f"text (default) or json: one object per line (also {LOG_FORMAT_ENV}=json)",
    )


def format_of(args: Any) -> str:
    """The log format asked for: --log-format, else RW_LOG_FORMAT, else text."""
    return str(args.log_format or default_log_format())
