"""API Gateway's request mapping, evaluated locally: what ``POST /smn`` makes of a body.

The SMN endpoint of template.yaml is an AWS integration with StartExecution whose Velocity (VTL)
request template turns the raw body into the execution input. A local run of ``VIA=smn`` evaluates
that very template (read from template.yaml) for a body file. Only the constructs the template uses
are understood -- ``#set``, ``#if``/``#else``/``#end`` on ``.length() > N``, ``$input.body``,
``$util.escapeJavaScript(...)`` and ``.replaceAll("...", "...")``, ``$name`` in text -- and anything
else is an error, so a changed template cannot be evaluated differently here without notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_SET = re.compile(r"^#set\(\$(\w+) = (.+)\)$")
_IF_LONGER = re.compile(r"^#if\(\$(\w+)\.length\(\) > (\d+)\)$")
_ESCAPE = re.compile(
    r'^\$util\.escapeJavaScript\(\$(\w+)\)(?:\.replaceAll\("((?:[^"])*)", "((?:[^"])*)"\))?$'
)
_VARIABLE = re.compile(r"\$(\w+)")
_JAVA_NAMED_ESCAPES = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
_JAVA_ESCAPED = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}


class MappingTemplateError(Exception):
    """The template uses a construct this evaluator does not know."""


def escape_javascript(text: str) -> str:
    """``$util.escapeJavaScript``: Apache Commons Lang 2 ``StringEscapeUtils.escapeJavaScript``,
    over UTF-16 code units as Java sees the string."""
    out: list[str] = []
    units = text.encode("utf-16-be", "surrogatepass")
    for index in range(0, len(units), 2):
        code = int.from_bytes(units[index : index + 2], "big")
        char = chr(code)
        if code > 0x7F:
            out.append(f"\\u{code:04X}")
        elif char in _JAVA_NAMED_ESCAPES:
            out.append(_JAVA_NAMED_ESCAPES[char])
        elif code < 32:
            out.append(f"\\u{code:04X}")
        else:
            out.append(_JAVA_ESCAPED.get(char, char))
    return "".join(out)


def _expression(expression: str, variables: Mapping[str, str]) -> str:
    if expression == "$input.body":
        return variables["input.body"]
    escaped = _ESCAPE.fullmatch(expression)
    if escaped is None:
        raise MappingTemplateError(f"unsupported expression {expression!r}")
    name, pattern, replacement = escaped.groups()
    value = escape_javascript(variables[name])
    if pattern is not None:
        # Velocity passes the literals through; Java's regex and replacement read them as Python's do here.
        value = re.sub(pattern, lambda _match: replacement, value)
    return value


def render(template: str, body: str) -> str:
    """The text the template renders for a request whose raw body is ``body``."""
    variables: dict[str, str] = {"input.body": body}
    emitting: list[bool] = []
    lines: list[str] = []
    for raw_line in template.splitlines():
        line = raw_line.strip()
        active = all(emitting)
        if match := _IF_LONGER.fullmatch(line):
            emitting.append(len(variables[match.group(1)]) > int(match.group(2)) if active else False)
        elif line == "#else":
            emitting[-1] = not emitting[-1] and all(emitting[:-1])
        elif line == "#end":
            emitting.pop()
        elif match := _SET.fullmatch(line):
            if active:
                variables[match.group(1)] = _expression(match.group(2), variables)
        elif line.startswith("#"):
            raise MappingTemplateError(f"unsupported directive {line!r}")
        elif active:
            lines.append(_VARIABLE.sub(lambda found: variables.get(found.group(1), found.group(0)), raw_line))
    return "\n".join(lines)


def start_execution_request(template: str, body: str) -> dict[str, Any]:
    """The StartExecution request the integration sends for ``body`` (JSON, as API Gateway sends it)."""
    rendered = render(template, body)
    request = json.loads(rendered)
    if not isinstance(request, dict):
        raise MappingTemplateError("the template does not render a JSON object")
    return request
