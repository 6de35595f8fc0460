"""Logging set-up: plain or JSON lines, to stderr and optionally to a file."""

from __future__ import annotations

import json
import logging
import sys
import time

from .config import LoggingConfig
from .errors import OutputError, printable


class OneLineFormatter(logging.Formatter):
    """Plain lines; a control character in a message (a newline in a file name) is
    escaped, so every record stays one line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def console_level(cfg: LoggingConfig) -> int:
    if cfg.quiet:
        return logging.ERROR
    if cfg.verbose:
        return logging.DEBUG
    return int(getattr(logging, cfg.log_level))


def logger_level(cfg: LoggingConfig) -> int:
    """The ``personframes`` logger's level under ``setup_logging``: its most detailed
    handler's (the console's, or the log file's)."""
    level = console_level(cfg)
    if cfg.log_file is not None:
        level = min(level, logging.DEBUG if cfg.verbose else logging.INFO)
    return level


def setup_logging(cfg: LoggingConfig) -> None:
    """Configure the ``personframes`` logger (idempotent: replaces earlier handlers)."""
    logger = logging.getLogger("personframes")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    text = OneLineFormatter("personframes: %(levelname)s: %(message)s")
    formatter: logging.Formatter = JsonFormatter() if cfg.log_format == "json" else text
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level(cfg))
    console.setFormatter(formatter)
    logger.addHandler(console)
    level = console.level
    if cfg.log_file is not None:
        try:
            cfg.log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(cfg.log_file, encoding="utf-8")
        except OSError as exc:
            raise OutputError(
                f"{cfg.log_file}: cannot open log file ({exc.strerror or exc})"
            ) from exc
        file_handler.setLevel(logging.DEBUG if cfg.verbose else logging.INFO)
        file_handler.setFormatter(
            JsonFormatter()
            if cfg.log_format == "json"
            else OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        logger.addHandler(file_handler)
        level = min(level, file_handler.level)
    logger.setLevel(level)
