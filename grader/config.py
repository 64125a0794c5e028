"""The course configuration: one TOML file that every command reads, mirroring the profile dataclasses.

A course names a base profile and overrides any of its fields, the run's limits, the
checks' metric thresholds and the rubric, without editing Mizan::

    profile = "paper"                       # the base profile (grader/profiles.py)
    [nli]                                   # NLIConfig's field names
    model = "/data/roberta-large"           # a save_pretrained folder
    [fraud]                                 # FraudConfig's field names
    data_path = "/data/creditcard.csv"
    [limits]                                # timeout_s, wall_factor, address_space_mb, [limits.step_cpu_s]
    [thresholds.nli]                        # full, freeze, lora  (lower bounds in [0, 1])
    [thresholds.fraud]                      # pr_auc, recall
    [rubric."nli.full_trainable"]           # points, visibility, enabled
    executor = "slurm"                      # grade on Slurm (grader/slurm.py); default "local"
    [slurm]                                 # partition, account, qos, cpus_per_task, mem_mb, time_min

Where it is found: ``--config PATH``, else ``$MIZAN_CONFIG``, else ``mizan.toml`` in the
current directory (the course's root: where ``make`` and ``python -m grader`` run); one
file, the first found. ``--set section.key=value`` (repeatable, the value a TOML scalar or
a bare word) overrides it for one run; ``--profile NAME`` picks the base profile over the
file's. Relative paths in the file are relative to the file's folder; in ``--set``, to the
current directory.

Validation follows peft's config ``__post_init__``: an unknown key, a wrong type, a path
that does not exist or a threshold outside [0, 1] stops with one :class:`ConfigError`
naming the file, the line and the key, and the fix. ``tomllib`` gives no line numbers,
so :func:`key_line` finds a key's line by scanning the text within its table.

The result is the effective :class:`~grader.profiles.Profile`: frozen, serialised with
``to_dict()`` into every results JSON, and part of the content hash (``Profile.fingerprint``).
Only the trusted side reads the file; a sandboxed step receives ``Profile.for_sandbox()``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Mapping, Sequence

from grader.errors import ProfileError
from grader.profiles import (NLI_MODELS, PROFILES, RUBRIC_KEYS, THRESHOLD_KEYS, FraudConfig, NLIConfig, Profile,
                             get_profile)

CONFIG_ENV = "MIZAN_CONFIG"
CONFIG_NAME = "mizan.toml"
SECTIONS = {"nli": NLIConfig, "fraud": FraudConfig}
LIMIT_KEYS = ("timeout_s", "wall_factor", "address_space_mb", "step_cpu_s")
TOP_KEYS = ("profile", "nli", "fraud", "limits", "thresholds", "rubric", "executor", "slurm")
EXECUTORS = ("local", "slurm")
SLURM_KEYS = {"partition": "str", "account": "str", "qos": "str", "cpus_per_task": "int", "mem_mb": "int",
              "time_min": "int"}
"""``[slurm]``: where and how big each array task is (``grader.slurm.SlurmOptions``); not part of a grade."""
VISIBILITIES = ("visible", "hidden")


class ConfigError(ProfileError):
    """A course configuration that cannot be used: the message names the file, the line, the key and the fix."""


# ---------------------------------------------------------------------------------------------
# finding a key's line (tomllib gives none)

_KEY_PART = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*')


def _dotted(text: str) -> tuple[str, ...] | None:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``; None when ``text`` is not a dotted key."""
    parts, pos = [], 0
    while True:
        m = _KEY_PART.match(text, pos)
        if not m or m.end() == pos:
            return None
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            return None
        pos += 1


def _key_of_line(line: str) -> tuple[str, ...] | None:
    """The dotted key a ``key = value`` line assigns (quotes respected), or None."""
    depth = None
    for i, ch in enumerate(line):
        if ch in "\"'":
            depth = None if depth == ch else (ch if depth is None else depth)
        elif ch == "=" and depth is None:
            return _dotted(line[:i])
    return None


def key_line(text: str, path: Sequence[str]) -> int | None:
    """1-based line where ``path`` (table names then key) is set in ``text``; for a table, its header.

    A key inside an inline table (``nli = {epochs = 2}``) is reported at the line of the
    nearest enclosing key found.
    """
    path = tuple(path)
    table: tuple[str, ...] = ()
    best: tuple[int, int] | None = None          # (matched length, line)
    in_string = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if raw.count('"""') % 2 or raw.count("'''") % 2:
            in_string = not in_string
            if not in_string:
                continue
        if in_string or not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[\[?(.*?)\]\]?\s*(#.*)?", line)
        if header and not _key_of_line(line):
            table = _dotted(header.group(1).strip()) or ()
            full = table
        else:
            key = _key_of_line(line)
            if key is None:
                continue
            full = table + key
        n = len(full)
        if full == path[:n] and (best is None or n > best[0]):
            best = (n, number)
            if n == len(path):
                return number
    return best[1] if best and best[0] > 0 else None


# ---------------------------------------------------------------------------------------------
# --set


def parse_set(item: str) -> tuple[tuple[str, ...], object]:
    """``"nli.epochs=2"`` -> ``(("nli", "epochs"), 2)``. The value is a TOML scalar; a bare word is a string.

    A check or step id holds dots: ``rubric.nli.full_trainable.points=3`` and
    ``limits.step_cpu_s.nli.train_full=900`` are read with the id as one key
    (``rubric."nli.full_trainable".points`` works too).
    """
    key, sep, value = item.partition("=")
    path = _dotted(key.strip()) if sep else None
    if not path or not value.strip():
        raise ConfigError(f"--set {item}: expected section.key=value, e.g. --set nli.epochs=2 or "
                          f"--set nli.source=glue-tsv")
    if path[0] == "rubric" and len(path) > 3:
        path = ("rubric", ".".join(path[1:-1]), path[-1])
    elif path[:2] == ("limits", "step_cpu_s") and len(path) > 3:
        path = ("limits", "step_cpu_s", ".".join(path[2:]))
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    if isinstance(parsed, (dict, list)):
        raise ConfigError(f"--set {item}: the value must be a single number, string or true/false; write one "
                          f"--set per key")
    return path, parsed


def _nest(pairs: Sequence[tuple[tuple[str, ...], object]]) -> dict:
    data: dict = {}
    for path, value in pairs:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {'.'.join(path)}: {part} is a value, not a table")
        node[path[-1]] = value
    return data


# ---------------------------------------------------------------------------------------------
# validation


@dataclasses.dataclass
class _Origin:
    """Where values come from, for messages: a file (with its text, for line numbers) or --set items."""

    label: str                      # "mizan.toml" or "--set"
    text: str = ""
    base: Path = Path(".")          # relative paths resolve against this folder
    sets: dict = dataclasses.field(default_factory=dict)   # path -> the --set item

    def where(self, path: Sequence[str]) -> str:
        if self.sets:
            for n in range(len(path), 0, -1):
                if tuple(path[:n]) in self.sets:
                    return f"--set {self.sets[tuple(path[:n])]}"
            return "--set"
        line = key_line(self.text, path)
        return f"{self.label}:{line}" if line else self.label

    def fail(self, path: Sequence[str], problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: {key_name(path)}: {problem}; fix: {fix}")


def key_name(path: Sequence[str]) -> str:
    """``("rubric", "nli.x", "points")`` -> ``rubric."nli.x".points`` (as the file writes it)."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"' for p in path)


def _kind(value) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "a list"}.get(type(value), type(value).__name__)


def _check_type(origin: _Origin, path: tuple, value, annotation: str, example: str):
    want = annotation.replace(" ", "")
    if want in ("int",) and (isinstance(value, bool) or not isinstance(value, int)):
        raise origin.fail(path, f"expected an integer, got {value!r} ({_kind(value)})", f"write {path[-1]} = {example}")
    if want == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))
                            or not math.isfinite(value)):
        raise origin.fail(path, f"expected a number, got {value!r} ({_kind(value)})", f"write {path[-1]} = {example}")
    if want in ("str", "str|None") and not isinstance(value, str):
        raise origin.fail(path, f"expected a string, got {value!r} ({_kind(value)})",
                          f"quote it: {path[-1]} = \"{value}\"")
    return float(value) if want == "float" else value


def _unknown(origin: _Origin, path: tuple, allowed: Sequence[str]) -> ConfigError:
    what = f"[{'.'.join(path[:-1])}]" if len(path) > 1 else "the top level"
    return origin.fail(path, f"unknown key in {what}", f"use one of {', '.join(allowed)} (README 'Course configuration')")


def _table(origin: _Origin, path: tuple, value) -> dict:
    if not isinstance(value, dict):
        raise origin.fail(path, f"expected a table, got {value!r} ({_kind(value)})",
                          f"write it as a [{'.'.join(path)}] table")
    return value


def _existing(origin: _Origin, path: tuple, value: str, *, folder: bool | None, hint: str) -> str:
    p = Path(os.path.expanduser(value))
    p = p if p.is_absolute() else origin.base / p
    ok = p.is_dir() if folder else p.is_file() if folder is False else p.exists()
    if not ok:
        kind = "folder" if folder else "file" if folder is False else "file or folder"
        raise origin.fail(path, f"{p} is not an existing {kind}", hint)
    return str(p.resolve())


def _validate_section(origin: _Origin, name: str, table: dict) -> dict:
    cls = SECTIONS[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in table.items():
        path = (name, key)
        if key not in fields:
            raise _unknown(origin, path, list(fields))
        default = fields[key].default
        example = repr(default) if default is not dataclasses.MISSING and default is not None else "..."
        out[key] = _check_type(origin, path, value, fields[key].type, example.replace("'", '"'))
    if name == "nli" and "model" in out and out["model"] not in NLI_MODELS:
        out["model"] = _existing(origin, ("nli", "model"), out["model"], folder=True,
                                 hint=f"name one of {', '.join(NLI_MODELS)} or a folder written by save_pretrained "
                                      f"(config.json and the weights)")
        if not (Path(out["model"]) / "config.json").is_file():
            raise origin.fail(("nli", "model"), f"{out['model']} holds no config.json, so it is not a "
                                                f"save_pretrained folder",
                              "point nli.model at the folder where model.save_pretrained() and "
                              "tokenizer.save_pretrained() wrote their files")
    if "data_path" in out:
        hint = ("point it at GLUE's MNLI folder (train.tsv, dev_matched.tsv, dev_mismatched.tsv) or MultiNLI's "
                "JSONL folder or file" if name == "nli" else "point it at Kaggle's creditcard.csv")
        out["data_path"] = _existing(origin, (name, "data_path"), out["data_path"],
                                     folder=False if name == "fraud" else None, hint=hint)
    return out


def _validate_limits(origin: _Origin, table: dict) -> dict:
    out = {}
    for key, value in table.items():
        path = ("limits", key)
        if key not in LIMIT_KEYS:
            raise _unknown(origin, path, LIMIT_KEYS)
        if key == "step_cpu_s":
            steps = {}
            for step_id, seconds in _table(origin, path, value).items():
                seconds = _check_type(origin, path + (step_id,), seconds, "float", "900")
                if seconds <= 0:
                    raise origin.fail(path + (step_id,), f"must be positive, got {seconds:g}",
                                      f"write \"{step_id}\" = 900 (seconds of CPU)")
                steps[step_id] = seconds
            _known_steps(origin, path, steps)
            out[key] = steps
        else:
            out[key] = _check_type(origin, path, value, {"timeout_s": "int", "wall_factor": "float",
                                                         "address_space_mb": "int"}[key],
                                   {"timeout_s": "3600", "wall_factor": "4.0", "address_space_mb": "8192"}[key])
    return out


def _known_steps(origin: _Origin, path: tuple, steps: dict) -> None:
    from grader.run.step_api import all_steps

    known = [s.id for s in all_steps()]
    for step_id in steps:
        if step_id not in known:
            raise origin.fail(path + (step_id,), "no step has this id", f"use one of {', '.join(known)}")


def _validate_thresholds(origin: _Origin, table: dict) -> dict:
    out: dict = {}
    for task, values in table.items():
        if task not in THRESHOLD_KEYS:
            raise _unknown(origin, ("thresholds", task), list(THRESHOLD_KEYS))
        for key, value in _table(origin, ("thresholds", task), values).items():
            path = ("thresholds", task, key)
            if key not in THRESHOLD_KEYS[task]:
                raise _unknown(origin, path, THRESHOLD_KEYS[task])
            value = _check_type(origin, path, value, "float", "0.4")
            if not 0.0 <= value <= 1.0:
                raise origin.fail(path, f"a threshold is a lower bound of an accuracy, PR-AUC or recall, in "
                                        f"[0, 1]; got {value:g}", f"write a number from 0 to 1, e.g. {key} = 0.4")
            out.setdefault(task, {})[key] = value
    return out


def _validate_rubric(origin: _Origin, table: dict) -> dict:
    from grader.rubric import load_rubric

    known = {e.id for e in load_rubric()}
    out: dict = {}
    for check_id, entry in table.items():
        path = ("rubric", check_id)
        if check_id not in known:
            raise origin.fail(path, "no check has this id",
                              f"use an id of grader/rubric/*.toml, quoted: [rubric.\"nli.full_trainable\"]")
        for key, value in _table(origin, path, entry).items():
            kpath = path + (key,)
            if key not in RUBRIC_KEYS:
                raise _unknown(origin, kpath, RUBRIC_KEYS)
            if key == "points":
                value = _check_type(origin, kpath, value, "float", "2")
                if value <= 0:
                    raise origin.fail(kpath, f"points must be positive, got {value:g}",
                                      "write points = 2, or enabled = false to switch the check off")
            elif key == "visibility" and value not in VISIBILITIES:
                raise origin.fail(kpath, f"expected \"visible\" or \"hidden\", got {value!r}",
                                  "write visibility = \"visible\" (students run it) or \"hidden\"")
            elif key == "enabled" and not isinstance(value, bool):
                raise origin.fail(kpath, f"expected true or false, got {value!r} ({_kind(value)})",
                                  "write enabled = false (or true)")
            out.setdefault(check_id, {})[key] = value
    return out


def _validate_slurm(origin: _Origin, table: dict) -> dict:
    out = {}
    for key, value in table.items():
        path = ("slurm", key)
        if key not in SLURM_KEYS:
            raise _unknown(origin, path, list(SLURM_KEYS))
        example = {"str": '"gpu"', "int": "4"}[SLURM_KEYS[key]]
        out[key] = _check_type(origin, path, value, SLURM_KEYS[key], example)
        if SLURM_KEYS[key] == "int" and out[key] <= 0:
            raise origin.fail(path, f"must be positive, got {out[key]}", f"write {key} = {example}")
    return out


def validate(data: Mapping, origin: _Origin) -> dict:
    """The checked, normalised form of one source's values (paths made absolute)."""
    out: dict = {}
    for key, value in data.items():
        if key not in TOP_KEYS:
            raise _unknown(origin, (key,), TOP_KEYS)
        if key == "profile":
            if value not in PROFILES:
                raise origin.fail(("profile",), f"no profile called {value!r}",
                                  f"write profile = \"{next(iter(PROFILES))}\" (one of {', '.join(PROFILES)})")
            out[key] = value
        elif key in SECTIONS:
            out[key] = _validate_section(origin, key, _table(origin, (key,), value))
        elif key == "limits":
            out[key] = _validate_limits(origin, _table(origin, (key,), value))
        elif key == "thresholds":
            out[key] = _validate_thresholds(origin, _table(origin, (key,), value))
        elif key == "executor":
            if value not in EXECUTORS:
                raise origin.fail((key,), f"no executor called {value!r}",
                                  f"write executor = \"slurm\" (one of {', '.join(EXECUTORS)})")
            out[key] = value
        elif key == "slurm":
            out[key] = _validate_slurm(origin, _table(origin, (key,), value))
        else:
            out[key] = _validate_rubric(origin, _table(origin, (key,), value))
    return out


# ---------------------------------------------------------------------------------------------
# resolving


def find_config(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> Path | None:
    """``--config PATH``, else ``$MIZAN_CONFIG``, else ``./mizan.toml`` when it exists, else None."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    for given, how in ((explicit, "--config"), (environ.get(CONFIG_ENV), f"${CONFIG_ENV}")):
        if given:
            path = Path(given) if Path(given).is_absolute() else cwd / given
            if not path.is_file():
                raise ConfigError(f"{how} {given}: no such file; fix: write the course configuration there "
                                  f"(docs/mizan.example.toml is a complete example) or pass another path")
            return path
    local = cwd / CONFIG_NAME
    return local if local.is_file() else None


def read_config(path: Path) -> tuple[dict, _Origin]:
    """The file's validated values and where they came from."""
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text; fix: save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{label}: not valid TOML ({err}); fix: quote strings (model = \"/data/roberta\") "
                          f"and quote dotted check ids ([rubric.\"nli.full_trainable\"])") from None
    origin = _Origin(label, text, path.resolve().parent)
    return validate(data, origin), origin


def _merge(low: dict, high: dict) -> dict:
    out = dict(low)
    for key, value in high.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _build(values: dict, base: Profile, label: str, origins: list[_Origin]) -> Profile:
    limits = dict(values.get("limits", {}))
    timeout_s = limits.pop("timeout_s", base.timeout_s)
    try:
        return dataclasses.replace(
            base,
            description=base.description + (f" (course configuration: {label})" if label else ""),
            nli=dataclasses.replace(base.nli, **values.get("nli", {})),
            fraud=dataclasses.replace(base.fraud, **values.get("fraud", {})),
            limits=dataclasses.replace(base.limits, **{**limits, "step_cpu_s": {**base.limits.step_cpu_s,
                                                                               **limits.get("step_cpu_s", {})}}),
            timeout_s=timeout_s, thresholds=values.get("thresholds", {}), rubric=values.get("rubric", {}),
            config=label)
    except ProfileError as err:         # a rule over several fields (n_fraud < n_rows, source needs data_path)
        named = re.search(r"\b(nli|fraud|limits|profile)\.(\w+)", str(err))
        path = (named.group(1), named.group(2)) if named else ()
        where = next((o.where(path) for o in reversed(origins) if path and (o.sets or key_line(o.text, path))),
                     label or base.name)
        raise ConfigError(f"{where}: {err}") from None


def load_profile(config: str | Path | None = None, sets: Sequence[str] = (), profile: str | None = None, *,
                 environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Profile:
    """The effective profile: ``--set`` over the configuration file over the base profile.

    The base profile is ``--set profile=``, else ``profile`` (the ``--profile`` option), else the
    file's ``profile``, else ``$PROFILE``, else ``cpu``. With no file and no ``--set`` this is the
    built-in profile itself, unchanged.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    path = find_config(config, environ, cwd)
    values, origins, labels = {}, [], []
    if path is not None:
        values, origin = read_config(path)
        origins.append(origin)
        labels.append(str(path))
    if sets:
        pairs = [parse_set(item) for item in sets]
        origin = _Origin("--set", base=cwd, sets={p: item for (p, _), item in zip(pairs, sets)})
        values = _merge(values, validate(_nest(pairs), origin))
        origins.append(origin)
        labels.append(" ".join(f"--set {item}" for item in sets))
    set_profile = any(p == ("profile",) for p, _ in (parse_set(i) for i in sets))
    name = values.get("profile") if set_profile else (profile or values.get("profile"))
    base = get_profile(name)
    if not values or values.keys() == {"profile"}:
        return dataclasses.replace(base, config=", ".join(labels)) if labels else base
    return _build(values, base, ", ".join(labels), origins)


def resolve_args(args) -> Profile:
    """The effective profile of a command's ``--config`` / ``--set`` / ``--profile`` options
    (``grader.cli.main`` resolves it once into ``args.resolved_profile``)."""
    resolved = getattr(args, "resolved_profile", None)
    if resolved is not None:
        return resolved
    return load_profile(getattr(args, "config", None), getattr(args, "set", None) or (),
                        getattr(args, "profile", None))


def load_executor(config: str | Path | None = None, sets: Sequence[str] = (), *,
                  environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> tuple[str | None, dict]:
    """``executor`` and the ``[slurm]`` table, ``--set`` over the file: how ``grade`` runs, which is no
    part of a grade (so not of the profile or its content hash)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    path = find_config(config, environ, cwd)
    values = read_config(path)[0] if path is not None else {}
    mine = {item: parse_set(item) for item in sets if parse_set(item)[0][0] in ("executor", "slurm")}
    if mine:
        origin = _Origin("--set", base=cwd, sets={path: item for item, (path, _) in mine.items()})
        values = _merge(values, validate(_nest(list(mine.values())), origin))
    return values.get("executor"), dict(values.get("slurm", {}))


# ---------------------------------------------------------------------------------------------
# writing a configuration back (make dist ships the course's to Gradescope and to students)


def _toml_value(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def course_toml(profile: Profile, *, keep_rubric=lambda check_id: True, thresholds: bool = True,
                paths: bool = True) -> str:
    """The course configuration that reproduces ``profile``: its base profile and every value that differs.

    ``keep_rubric`` filters the ``[rubric]`` entries, ``thresholds`` and ``paths`` (local model and
    data paths) may be left out: the student bundle gets neither hidden checks nor hidden thresholds.
    """
    base = PROFILES[profile.name]
    lines = [f"# Course configuration written by `make dist` from {profile.config or 'the built-in profile'}.",
             f"profile = {_toml_value(profile.name)}"]
    for section in ("nli", "fraud"):
        mine, theirs = getattr(profile, section), getattr(base, section)
        changed = {f.name: getattr(mine, f.name) for f in dataclasses.fields(mine)
                   if getattr(mine, f.name) != getattr(theirs, f.name) and getattr(mine, f.name) is not None}
        if not paths:
            changed = {k: v for k, v in changed.items()
                       if k != "data_path" and not (k == "model" and v not in NLI_MODELS)}
        if changed:
            lines += ["", f"[{section}]", *(f"{k} = {_toml_value(v)}" for k, v in changed.items())]
    limits = {k: v for k, v in (("timeout_s", profile.timeout_s), ("wall_factor", profile.limits.wall_factor),
                                ("address_space_mb", profile.limits.address_space_mb))
              if v != (base.timeout_s if k == "timeout_s" else getattr(base.limits, k))}
    steps = {k: v for k, v in profile.limits.step_cpu_s.items() if base.limits.step_cpu_s.get(k) != v}
    if limits or steps:
        lines += ["", "[limits]", *(f"{k} = {_toml_value(v)}" for k, v in limits.items())]
        if steps:
            lines += ["", "[limits.step_cpu_s]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in steps.items())]
    if thresholds:
        for task, values in profile.thresholds.items():
            lines += ["", f"[thresholds.{task}]", *(f"{k} = {_toml_value(v)}" for k, v in values.items())]
    for check_id, values in profile.rubric.items():
        if keep_rubric(check_id):
            lines += ["", f"[rubric.{_toml_key(check_id)}]", *(f"{k} = {_toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"
