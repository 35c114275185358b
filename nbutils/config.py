"""Configuration by name, in the manner of nanoGPT: dataclass defaults, overridden by a dict from a
parameter file or by ``key=value`` words on the command line, each checked for name and type."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar, get_type_hints

import yaml

C = TypeVar("C")


def type_name(value: Any) -> str:
    return type(value).__name__


def check_type(key: str, value: Any, expected: Any, where: str) -> Any:
    """``value`` if it fits the type of ``expected`` (an example value), else a clear TypeError.

    ints are accepted where floats are expected; None is accepted where the default is None."""
    if expected is None:
        return value
    if isinstance(expected, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(expected, bool)
    elif isinstance(expected, float):
        ok = isinstance(value, (int, float))
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(expected))
    if not ok:
        raise TypeError(f"{where}: {key}={value!r} is a {type_name(value)}, but {key} takes a "
                        f"{type_name(expected)} (default {expected!r})")
    return value


def build(cls: type[C], overrides: dict[str, Any] | None, where: str) -> C:
    """``cls(**overrides)`` after checking every key is a field of ``cls`` and every value fits
    the field's default type; ``where`` names the source in the error (e.g. 'params/demo.yaml: train')."""
    overrides = dict(overrides or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(overrides) - set(fields)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(fields)}")
    hints = get_type_hints(cls)
    for key, value in overrides.items():
        default = fields[key].default
        if default is dataclasses.MISSING or hints.get(key) is Any:
            continue
        overrides[key] = check_type(key, value, default, where)
    return cls(**overrides)


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1) that also reads YAML 1.2's exponent numbers without a dot or
    a signed exponent ('1e-4', '5E3', '2.e4') as floats — YAML 1.1 leaves them strings — at every
    depth of a file or value. Quoted scalars ("2") stay strings."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"), list("-+.0123456789"))


def load_yaml(text: str) -> Any:
    """A parameter file or command-line value read with :class:`YamlLoader`."""
    return yaml.load(text, Loader=YamlLoader)


def parse_override(word: str) -> tuple[list[str], Any]:
    """'train.epochs=3' -> (['train', 'epochs'], 3); values are read as YAML (3, 0.1, true, [1, 2])."""
    if "=" not in word:
        raise ValueError(f"override {word!r} must look like key=value (e.g. epochs=1 or train.lr=0.01)")
    key, text = word.split("=", 1)
    if not key:
        raise ValueError(f"override {word!r} has no key before '='")
    return key.split("."), read_value(text)


def read_value(text: str) -> Any:
    """A command-line value as YAML, with the numbers YAML 1.1 misses ('1e-3') read as floats, also
    inside lists and dicts (``train={weight_decay: 1e-4}``)."""
    return load_yaml(text) if text else ""


def set_nested(tree: dict[str, Any], path: list[str], value: Any, where: str) -> None:
    """Set ``tree[a][b]... = value`` for path [a, b, ...]; every key but the last must exist."""
    node = tree
    for i, key in enumerate(path[:-1]):
        if not isinstance(node.get(key), dict):
            raise ValueError(f"{where}: {'.'.join(path)} — {'.'.join(path[:i + 1])} is not a section "
                             f"of the parameters; sections: {sorted(k for k, v in node.items() if isinstance(v, dict))}")
        node = node[key]
    node[path[-1]] = value
