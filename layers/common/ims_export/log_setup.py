"""Logging settings every function applies when it is loaded.

boto3/botocore log request and response bodies at DEBUG -- the decrypted credentials parameter among
them -- and urllib3 logs every URL. Whatever LogLevel (or a root logger at DEBUG) asks for, these
libraries never log below WARNING in our functions.
"""

from __future__ import annotations

import logging

SDK_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3")
SDK_MIN_LEVEL = logging.WARNING


def quiet_sdk_loggers() -> None:
    """Raise the AWS SDK and urllib3 loggers -- and any child given a level of its own -- to WARNING."""
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.level < SDK_MIN_LEVEL:
            sdk_logger.setLevel(SDK_MIN_LEVEL)
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(child, logging.Logger)
            and name.split(".", 1)[0] in SDK_LOGGERS
            and logging.NOTSET < child.level < SDK_MIN_LEVEL
        ):
            child.setLevel(SDK_MIN_LEVEL)
