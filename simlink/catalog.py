"""What ``simlink list`` prints: every registered kind with its description,
requirements and keys (read off the config models, so it cannot drift)."""
from __future__ import annotations

import inspect
import re
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simlink.channels import ENVIRONMENTS
from simlink.estimators import REGISTRY

#: keys every entry has, shown once in the header instead of per kind
_COMMON = ("name", "kind")

_BOUNDS = ((annotated_types.Gt, ">", "gt"), (annotated_types.Ge, ">=", "ge"),
           (annotated_types.Lt, "<", "lt"), (annotated_types.Le, "<=", "le"),
           (annotated_types.MultipleOf, "multiple of", "multiple_of"))


def type_name(annotation: Any, metadata: list | tuple = ()) -> str:
    """A short readable name of a field type, e.g. ``int > 0 | None`` or ``"rls" | "noise"``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0], args[1:])
    if origin is typing.Literal:
        name = " | ".join(repr(a) for a in args)
    elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        name = " | ".join(type_name(a) for a in args)
    elif origin in (list, tuple):
        name = f"list of {type_name(args[0])}" if args else "list"
    else:
        name = getattr(annotation, "__name__", str(annotation)).replace("NoneType", "None")
    for m in [x for m in metadata for x in (m.metadata if isinstance(m, FieldInfo) else [m])]:
        for kind, symbol, attr in _BOUNDS:
            if isinstance(m, kind):
                name += f" {symbol} {getattr(m, attr)}"
    return name


def _field(info: FieldInfo) -> str:
    return type_name(info.annotation, info.metadata)


def keys(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` of every key of a config model but name/kind."""
    out = []
    for key, info in model.model_fields.items():
        if key in _COMMON:
            continue
        default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
        out.append((key, _field(info), default, info.description or ""))
    return out


def plain(text: str) -> str:
    """reStructuredText inline markup made terminal text: ``x``, `x` and :role:`x` become x."""
    text = re.sub(r":[a-z:]+:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``|`([^`]+)`", lambda m: m.group(1) or m.group(2), text)


def _summary(cls: type) -> str:
    """The docstring's first sentence, however many lines it takes."""
    paragraph = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]
    words = " ".join(paragraph.split())
    end = re.search(r"[.!?](\s|$)", words)
    return plain(words[:end.end()].strip() if end else words)


def estimator_requires(cls) -> str:
    """What an estimator class needs: observations, pilot modes, environment kinds."""
    if isinstance(cls.requires, property):      # depends on the configuration
        parts = [plain(" ".join((cls.requires.__doc__ or "depends on its keys").split())).rstrip(".")]
    else:
        parts = [", ".join(sorted(cls.requires)) or "nothing"]
    if cls.pilot_modes is not None:
        parts.append("pilots " + "/".join(sorted(cls.pilot_modes)))
    if cls.environment_kinds is not None:
        parts.append("environments " + "/".join(sorted(cls.environment_kinds)))
    return "; ".join(parts)


def _key_lines(model: type[BaseModel], indent: str, full: bool) -> list[str]:
    lines = []
    for key, typ, default, doc in keys(model):
        line = f"{indent}{key}: {typ} = {default}"
        lines.append(line + (f"\n{indent}    {plain(doc)}" if full and doc else ""))
    return lines


def listing() -> str:
    """Every environment and estimator kind, one block each (``simlink list``)."""
    lines = ["environments (keys besides name, kind):"]
    for kind, (model, _) in sorted(ENVIRONMENTS.items()):
        lines.append(f"  {kind:<14} {_summary(model)}")
        lines += _key_lines(model, " " * 6, full=False)
    lines.append("estimators (keys besides name, kind):")
    for kind, cls in sorted(REGISTRY.items()):
        lines.append(f"  {kind:<14} {_summary(cls)}")
        lines.append(f"      requires: {estimator_requires(cls)}")
        lines += _key_lines(cls.Config, " " * 6, full=False)
    lines.append("`simlink list KIND` shows one kind in full.")
    return "\n".join(lines)


def describe(kind: str) -> str:
    """One kind in full: its docstring, requirements and documented keys.

    Raises ``KeyError`` naming the known kinds when ``kind`` is not registered.
    """
    if kind in REGISTRY:
        cls = REGISTRY[kind]
        head = [f"estimator {kind} ({cls.__module__}.{cls.__qualname__})",
                f"requires: {estimator_requires(cls)}"]
        if cls.diagnostics:
            head.append("diagnostics: " + ", ".join(f"{n} -> column {d.column} ({d.description})"
                                                    for n, d in cls.diagnostics.items()))
        model, doc = cls.Config, cls.__doc__
    elif kind in ENVIRONMENTS:
        model, src = ENVIRONMENTS[kind]
        head, doc = [f"environment {kind} ({src.__module__}.{src.__qualname__})"], model.__doc__
    else:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(sorted({*REGISTRY, *ENVIRONMENTS}))}")
    # the keys are listed below from the config model: drop the docstring's Parameters section
    body = re.sub(r"^Parameters\n-+\n.*?(?=\n\n\S|\Z)", "", inspect.cleandoc(doc or ""),
                  flags=re.S | re.M)
    body = plain(re.sub(r"\n{3,}", "\n\n", body).strip())
    return "\n".join([*head, "", body, "", "keys (besides name, kind):",
                      *_key_lines(model, "  ", full=True)]).rstrip() + "\n"
