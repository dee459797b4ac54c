"""Scenario schema: the single source of truth for scenario YAML files.

Every model is frozen and forbids unknown keys. The ``system:`` section is
:mod:`simlink.system`, ``link:`` is :mod:`simlink.link.config`. The
kind-tagged unions of ``environments:`` and ``estimators:`` are assembled from
the environment and estimator registries (:data:`simlink.channels.ENVIRONMENTS`,
:data:`simlink.estimators.REGISTRY`): a method declares its keys, and what it
needs of the system, next to its own class. A scenario's ``plugins:`` names
Python files (or modules) that register more kinds; they are imported before
the rest of the scenario is validated, and again in every worker process.
``scenarios/schema.json`` is exported from :func:`scenario_model`.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import (AfterValidator, Field, ValidationError, create_model, model_validator)

from simlink.channels import ENVIRONMENTS, EnvBase
from simlink.estimators import REGISTRY, EstBase, build
from simlink.hashing import stable_hash
from simlink.link.config import LinkCfg
from simlink.system import Density, Model, NonNegInt, PosInt, SystemCfg, with_density


# ---------------------------------------------------------------- sweep / scenario
def _distinct(values: list[float]) -> list[float]:
    if len(set(values)) != len(values):
        raise ValueError(f"duplicate values in {values}")
    return values


#: pilot densities of a sweep: distinct, each in (0, 1]
DensityList = Annotated[list[Density], AfterValidator(_distinct)]


class SweepCfg(Model):
    snr_db: list[float] = Field(min_length=1)
    n_test: PosInt = 2000
    n_train: NonNegInt = 10000
    chunk: PosInt = 500   # Monte Carlo samples per cell
    #: pilot densities ``alpha = Np / Nt`` to sweep (``system.pilots.mode: dense``
    #: only); each replaces ``system.pilots.density`` in its cells. None: no sweep.
    pilot_density: DensityList | None = Field(default=None, min_length=1)


class SmokeCfg(Model):
    n_test: PosInt = 64
    n_train: NonNegInt = 256
    train_steps: PosInt = 20
    link_batches: PosInt = 1      # max_batches of every link configuration
    snr_db: list[float] | None = Field(default=None, min_length=1)   # None: the sweep's
    pilot_density: DensityList | None = Field(default=None, min_length=1)   # None: the sweep's
    #: other estimator keys to shrink, applied to every estimator that has them
    estimator_overrides: dict[str, int | float | str] = Field(default_factory=dict)


class MetricsCfg(Model):
    """Effective-rate beam codebooks (LAD-CKM eqs. 10-11)."""
    bs_oversampling: PosInt = 1
    ue_oversampling: PosInt = 1


class Scenario(Model):
    """A scenario file. Its ``environments`` and ``estimators`` entries are
    validated against the registered kinds by the subclass
    :func:`scenario_model` builds; use :func:`parse_scenario` / :func:`load_scenario`."""
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: NonNegInt = 0
    #: Python files (absolute, or relative to the scenario file) or module names registering more kinds
    plugins: list[str] = Field(default_factory=list)
    system: SystemCfg
    environments: list[EnvBase] = Field(min_length=1)
    estimators: list[EstBase] = Field(min_length=1)
    sweep: SweepCfg
    smoke: SmokeCfg = SmokeCfg()
    metrics: MetricsCfg = MetricsCfg()
    #: coded DL transmission(s), e.g. one per MCS: fill ber, bler, goodput
    link: LinkCfg | list[LinkCfg] | None = None

    @property
    def links(self) -> list[LinkCfg]:
        """The link configurations as a list (empty without a ``link`` section)."""
        return [] if self.link is None else [self.link] if isinstance(self.link, LinkCfg) \
            else list(self.link)

    @model_validator(mode="after")
    def _links(self) -> "Scenario":
        labels = [link.label for link in self.links]
        if len(set(labels)) != len(labels):
            raise ValueError(f"link: duplicate link label(s) in {labels}; give each a name")
        if len({link.feedback_ber for link in self.links}) > 1:
            raise ValueError("link: every entry must have the same feedback_ber "
                             "(the feedback is decoded once per cell)")
        return self

    @model_validator(mode="after")
    def _pilot_density_sweep(self) -> "Scenario":
        """``sweep.pilot_density`` needs dense pilots, and every density must fit the grid."""
        for field, densities in (("sweep", self.sweep.pilot_density), ("smoke", self.smoke.pilot_density)):
            if densities is None:
                continue
            if self.system.pilots.mode != "dense":
                raise ValueError(f"{field}.pilot_density: a pilot-density sweep needs "
                                 f"system.pilots.mode: dense, not {self.system.pilots.mode}")
            for i, alpha in enumerate(densities):
                try:
                    with_density(self.system, alpha)
                except ValidationError as exc:
                    msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"{field}.pilot_density[{i}]: density {alpha:g}: {msg}") from None
        if self.smoke.pilot_density is not None and self.sweep.pilot_density is None:
            raise ValueError("smoke.pilot_density: set sweep.pilot_density too (the smoke list "
                             "replaces the sweep's)")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> "Scenario":
        for field in ("environments", "estimators"):
            names = [x.name for x in getattr(self, field)]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{field}: duplicate name(s) {dup}")
        return self

    @model_validator(mode="after")
    def _estimators_fit_system(self) -> "Scenario":
        """What each estimator needs of the system and the environments (declared by its class)."""
        kinds = {env.kind for env in self.environments}
        for i, cfg in enumerate(self.estimators):
            est = build(cfg)
            for key, msg in est.system_problems(self.system):
                raise ValueError(f"estimators[{i}].{key}: {msg}")
            wanted = type(est).environment_kinds
            if wanted is not None and not kinds <= wanted:
                raise ValueError(f"estimators[{i}].kind: {cfg.kind} works on environment kinds "
                                 f"{sorted(wanted)}, not {sorted(kinds - wanted)}")
        return self

    def smoke_version(self) -> "Scenario":
        """The same scenario shrunk to its ``smoke`` sizes."""
        sweep = self.sweep.model_copy(update={
            "n_test": self.smoke.n_test, "n_train": self.smoke.n_train,
            "chunk": min(self.sweep.chunk, self.smoke.n_test),
            "snr_db": self.smoke.snr_db or self.sweep.snr_db,
            "pilot_density": self.smoke.pilot_density or self.sweep.pilot_density})
        envs = [e if e.n_train is None else e.model_copy(update={"n_train": min(e.n_train, self.smoke.n_train)})
                for e in self.environments]
        return self.model_copy(update={"sweep": sweep, "environments": envs})

    def content_hash(self) -> str:
        data = self.model_dump(mode="json")
        # Optional keys added later are hashed only when set, so the hash of
        # a scenario without them (and its results folders) stays the same.
        for section in ("sweep", "smoke"):
            if data[section].get("pilot_density") is None:
                data[section].pop("pilot_density", None)
        if not data["plugins"]:
            del data["plugins"]
        for est in data["estimators"]:
            fields = REGISTRY[est["kind"]].Config.model_fields
            for key in REGISTRY[est["kind"]].late_keys:
                if est.get(key) == fields[key].default:
                    del est[key]
        return stable_hash(data)

    def __reduce__(self):
        # Rebuilt from plain data in the receiving process, after its plugins
        # are imported there (the tagged unions are classes built at run time).
        return (_from_json, (self.model_dump(mode="json"),))


# ---------------------------------------------------------------- loading
class ScenarioError(Exception):
    """A scenario file problem; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _loc(loc: tuple, data: Any) -> str:
    """Render a pydantic error location as ``estimators[2].rank``, dropping
    the union tag pydantic inserts for discriminated unions."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            named = isinstance(node, dict) and isinstance(node.get("name"), str)
            out += f"[{part}] ({node['name']})" if named else f"[{part}]"
        elif isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # discriminator tag
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "<root>"


def _tagged_union(models: list[type[Model]]) -> Any:
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]


_MODELS: dict[tuple, type[Scenario]] = {}


def scenario_model() -> type[Scenario]:
    """The :class:`Scenario` subclass whose ``environments`` / ``estimators`` are
    the tagged unions of the kinds registered now (rebuilt when a plugin adds one)."""
    key = (tuple((k, id(m)) for k, (m, _) in sorted(ENVIRONMENTS.items())),
           tuple((k, id(c)) for k, c in sorted(REGISTRY.items())))
    if key not in _MODELS:
        envs = _tagged_union([model for _, (model, _) in sorted(ENVIRONMENTS.items())])
        ests = _tagged_union([cls.Config for _, cls in sorted(REGISTRY.items())])
        _MODELS[key] = create_model("Scenario", __base__=Scenario, __module__=__name__,
                                    environments=(list[envs], Field(min_length=1)),
                                    estimators=(list[ests], Field(min_length=1)))
    return _MODELS[key]


def load_plugins(plugins: list[str]) -> None:
    """Import every plugin (a ``.py`` file path or a module name) once per process.

    A file is imported as module ``simlink_plugin_<hash of its path>``, the
    same name in every process, so that its classes pickle.
    """
    for plugin in plugins:
        if not plugin.endswith(".py"):
            importlib.import_module(plugin)
            continue
        path = Path(plugin).resolve()
        name = "simlink_plugin_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise


def _plugin_problems(data: dict, source: str) -> list[str]:
    """Resolve ``plugins`` against the scenario's folder, import them, and say what failed."""
    plugins = data.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        return [f"{source}: plugins: expected a list of file paths or module names"]
    base = Path(source).parent if source != "<scenario>" else Path.cwd()
    resolved = [str((base / p).resolve()) if p.endswith(".py") else p for p in plugins]
    problems = []
    for i, plugin in enumerate(resolved):
        if plugin.endswith(".py") and not Path(plugin).is_file():
            problems.append(f"{source}: plugins[{i}]: file not found: {plugins[i]}")
            continue
        try:
            load_plugins([plugin])
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's file
            problems.append(f"{source}: plugins[{i}]: cannot import {plugins[i]}: "
                            f"{type(exc).__name__}: {exc}")
    data["plugins"] = resolved
    return problems


def _from_json(data: dict) -> Scenario:
    load_plugins(data.get("plugins", []))
    return scenario_model().model_validate(data)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate scenario ``data`` (the parsed YAML) read from ``source``.

    Raises :class:`ScenarioError` with one line per problem, naming the field.
    """
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ScenarioError([f"{source}: expected a mapping at the top level, got {kind}"])
    data = dict(data)
    problems = _plugin_problems(data, source)
    if problems:
        raise ScenarioError(problems)
    try:
        return scenario_model().model_validate(data)
    except ValidationError as exc:
        problems, words = [], _schema_words()
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}: {_loc(err['loc'], data)}: {msg}{_suggestion(err, words)}")
        raise ScenarioError(problems) from None


def _suggestion(err: dict, words: tuple[set[str], set[str]]) -> str:
    """``"; did you mean X?"`` for a misspelt key or kind, from the schema's
    ``words`` (:func:`_schema_words`) by difflib, else ``""``."""
    if err["type"] == "extra_forbidden":
        word, known = str(err["loc"][-1]), words[0]
    elif err["type"] == "union_tag_invalid":
        word, known = str(err["ctx"]["tag"]), words[1]
    else:
        return ""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def _schema_words() -> tuple[set[str], set[str]]:
    """Every key of the scenario schema, and every value a ``kind`` may take."""
    keys: set[str] = set()
    kinds: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                keys.add(key)
                if key == "kind" and isinstance(prop, dict):
                    kinds.update(v for v in [prop.get("const"), *prop.get("enum", [])] if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(scenario_model().model_json_schema())
    return keys, kinds


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises :class:`ScenarioError` with one line per problem.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc.__class__.__name__}: {exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError([f"{path}: not valid YAML{where}: "
                             f"{getattr(exc, 'problem', None) or exc}"]) from None
    return parse_scenario(data, str(path))


def schema_json() -> str:
    """The JSON schema of scenario files with the built-in kinds (``scenarios/schema.json``)."""
    return json.dumps(scenario_model().model_json_schema(), indent=2, sort_keys=True) + "\n"
