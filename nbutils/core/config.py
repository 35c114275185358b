"""Configuration by name, in the manner of nanoGPT: dataclass defaults, overridden by a dict from a
parameter file or by ``key=value`` words on the command line, each checked for name and type."""
from __future__ import annotations

import dataclasses
import inspect
import numbers
import re
import types
from typing import Any, Callable, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

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
        if _either(hints.get(key)):  # e.g. amp: bool | str, whose values __post_init__ checks
            if not isinstance(value, _either(hints[key])):
                raise TypeError(f"{where}: {key}={value!r} is a {type_name(value)}, but {key} takes "
                                f"{' or '.join(t.__name__ for t in _either(hints[key]))} (default {default!r})")
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
    try:
        return key.split("."), read_value(text)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"override {word!r}: its value is not valid YAML ({problem}); quote the whole word in "
                         "the shell, e.g. 'train={weight_decay: 1e-4}', or set one key: train.weight_decay=1e-4") from None


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


def _either(kind: Any) -> tuple[type, ...]:
    """The member types of a union annotation without None (``bool | str``), else ()."""
    if get_origin(kind) in (Union, types.UnionType) and type(None) not in get_args(kind):
        return get_args(kind)
    return ()


def _union(kind: Any) -> tuple[Any, ...]:
    """The members of a union annotation (``X | Y``, ``X | None``, Optional[X]); () for any other."""
    return get_args(kind) if get_origin(kind) in (Union, types.UnionType) else ()


def typed_option(value: Any, kind: Any) -> tuple[bool, Any]:
    """(whether ``value`` fits the annotation ``kind``, the value converted).

    kind: float, int, bool, str, list (per-class numbers), ``list[X]`` (a list of X), a class, None,
    or a union of them (``X | None``, ``str | os.PathLike``: the first member that fits).
    A string that ``config.read_value`` reads as a number counts as that number (YAML 1.1 leaves
    '5e-1' a string); ints count as floats, and a float with an integral value as an int.
    """
    if _union(kind):
        fits = (typed_option(value, member) for member in _union(kind))
        return next((fit for fit in fits if fit[0]), (False, value))
    if kind in (None, type(None)):
        return value is None, value
    if get_origin(kind) is list:
        fits = [typed_option(v, get_args(kind)[0]) for v in value] if isinstance(value, list) else [(False, value)]
        ok = all(fit for fit, _ in fits)
        return ok, [v for _, v in fits] if ok else value
    if isinstance(value, str) and kind in (float, int):
        value = read_value(value)
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is float:
        return number, float(value) if number else value
    if kind is int:
        integral = number and float(value).is_integer()
        return integral, int(value) if integral else value
    if kind is list:
        ok = isinstance(value, (list, tuple)) and all(typed_option(v, float)[0] for v in value)
        return ok, [typed_option(v, float)[1] for v in value] if ok else value
    return isinstance(value, kind), value


def kind_text(kind: Any) -> str:
    """How an error names the annotation ``kind`` (e.g. 'an int or null')."""
    if _union(kind):
        members = [kind_text(member) for member in _union(kind) if member is not type(None)]
        return " or ".join(members) + (" or null" if type(None) in _union(kind) else "")
    if get_origin(kind) is list:
        return f"a list, each {kind_text(get_args(kind)[0])}"
    names = {float: "a number", int: "an int", bool: "true or false", str: "a string",
             list: "a list of per-class numbers"}
    return names.get(kind, f"a {getattr(kind, '__name__', kind)}")


def check_keyword_options(function: Callable, options: dict[str, Any], what: str) -> dict[str, Any]:
    """``options`` for ``function``'s keyword-only parameters, checked by name and by each parameter's
    annotation (see :func:`typed_option`): a new dict with the values converted. ``what`` starts each
    error ("loss 'focal'"). Raises ValueError for unknown names (valid ones listed), TypeError for a
    wrong type (the expected one named)."""
    valid = list(keyword_defaults(function))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"{what}: unknown option(s) {unknown}; valid options: {', '.join(valid) or 'none'}")
    kinds = get_type_hints(function)
    checked = {}
    for option, value in options.items():
        ok, checked[option] = typed_option(value, kinds[option])
        if not ok:
            raise TypeError(f"{what}: {option}={value!r} is a {type(value).__name__}, but {option} takes "
                            f"{kind_text(kinds[option])}")
    return checked


def registered(registry: Mapping[str, C], name: Any, kind: str) -> C:
    """``registry[name]``: the builder (or recipe) of a registered method, loss, sampler, encoder or
    data set. An unknown name is a ValueError "unknown <kind> <name>; valid: <every registered name>"."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(registry)}")
    return registry[name]


def keyword_defaults(function: Callable) -> dict[str, Any]:
    """``function``'s keyword-only parameters -> their defaults (``inspect.Parameter.empty``: required).
    A registered builder's keyword-only parameters are its options, which
    :func:`check_keyword_options` checks."""
    parameters = inspect.signature(function).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}
