"""TOML scenario file (or dict) + overrides → validated :class:`Scenario` (DESIGN §2–§4, §6).

Every problem raises :class:`ScenarioError` naming the file (the path as given, or ``<dict>``)
and the dotted key path, e.g. ``x.toml: traffic[2].size: cannot parse "1MBB" as a size``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fabsim.errors import ScenarioError
from fabsim.scenario._reader import Table
from fabsim.scenario._sections import (
    parse_cc,
    parse_failure,
    parse_host,
    parse_output,
    parse_routing,
    parse_run,
    parse_switch,
    parse_topology,
)
from fabsim.scenario._jobs import parse_jobs
from fabsim.scenario._traffic import parse_traffic
from fabsim.scenario.schema import Scenario

#: Top-level tables of a scenario file, in documentation order.
SECTIONS = ("run", "topology", "switch", "host", "routing", "cc", "traffic", "jobs", "failures", "output")

#: File name used in errors about a scenario given as a dict.
DICT_SOURCE = "<dict>"

_INDEX = re.compile(r"\[(\d+)\]")


def load_scenario(
    source: str | os.PathLike[str] | Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """Read, override and validate a scenario.

    ``source`` is the path of a TOML file, or an already-parsed TOML document (a mapping; it is
    not modified, relative paths resolve against the current directory and the run is named
    "scenario"). ``overrides`` maps dotted keys (``"topology.k"``, ``"traffic.0.size"`` or
    ``"traffic[0].size"``) to values; they replace the raw values before validation, so an
    override is checked exactly like the same value written in the file.
    """
    if isinstance(source, Mapping):
        return load_raw_scenario(source, DICT_SOURCE, os.getcwd(), "scenario", overrides)
    file = os.fspath(source)
    return load_raw_scenario(read_toml(file), file, os.path.dirname(os.path.abspath(file)), Path(file).stem, overrides)


def load_raw_scenario(
    raw: Mapping[str, Any],
    file: str,
    base_dir: str,
    default_name: str,
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """Validate an already-parsed scenario document that came from ``file``.

    ``raw`` is not modified. Errors name ``file``; relative paths in the scenario resolve
    against ``base_dir``; ``default_name`` names the run when ``run.name`` is not set. The sweep
    loader uses this for the scenario part of a sweep file.
    """
    raw = copy.deepcopy(dict(raw))
    try:
        for key, value in (overrides or {}).items():
            _apply_override(raw, key, value)
        return _build(raw, file, base_dir, default_name)
    except ScenarioError as exc:
        raise exc.with_file(file) from None


def parse_set_option(text: str) -> tuple[str, Any]:
    """Split a CLI ``--set KEY=VALUE`` into (key, value).

    The value is read as a TOML value (``16`` → int, ``true`` → bool, ``"a"`` → str, ``[1, 2]``
    → list); anything that is not valid TOML is taken as a plain string, so units need no
    quotes: ``--set topology.host_rate=400Gbps``.
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise ScenarioError(f"--set expects KEY=VALUE, got {json.dumps(text, ensure_ascii=False)}")
    if "\n" in value:
        # "v = 1\nw = 2" would parse as TOML and silently drop the rest.
        return key, value
    try:
        return key, tomllib.loads("v = " + value)["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def read_toml(file: str) -> dict[str, Any]:
    """The TOML document in ``file``; unreadable or invalid files raise ``ScenarioError``."""
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror or exc}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"cannot read file: not UTF-8 text (byte {exc.start})", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line X, column Y)".
        raise ScenarioError(f"invalid TOML: {exc}", file=file) from None


def _build(raw: dict[str, Any], file: str, base_dir: str, default_name: str) -> Scenario:
    root = Table(raw)
    root.check_keys(SECTIONS)
    if not root.has("topology"):
        raise root.error("topology", "missing required table [topology]")
    run = parse_run(root.table("run"), default_name)
    topology = parse_topology(root.table("topology"), base_dir)
    cc = parse_cc(root.table("cc"))  # before [switch]: the preset brings switch defaults
    switch = parse_switch(root.table("switch"), cc)
    host = parse_host(root.table("host"))
    if switch.trim and host.transport != "sr":
        message = 'trim needs host.transport = "sr": a trimmed packet is resent alone, which go-back-N cannot do'
        raise root.table("switch").error("trim", message)
    routing = parse_routing(root.table("routing"))
    traffic_tables = root.tables("traffic")
    job_tables = root.tables("jobs")
    if not traffic_tables and not job_tables:
        raise root.error("traffic", "at least one [[traffic]] generator or [[jobs]] entry is required")
    traffic = parse_traffic(traffic_tables, base_dir)
    jobs = parse_jobs(job_tables)
    if run.engine == "packet":
        for i, job in enumerate(jobs):
            if job.collective_model == "connections":
                message = (
                    'collective_model = "connections" is a flow-engine model; the packet engine '
                    'simulates every step (use engine = "flow", or collective_model = "steps")'
                )
                raise job_tables[i].error("collective_model", message)
    failures = tuple(parse_failure(t) for t in root.tables("failures"))
    output = parse_output(root.table("output"), jobs)
    if routing.qps > 1 and output.cc_sample_ps and cc.algorithm == "dcqcn" and run.engine == "packet":
        message = ("the rates trace is not available with routing.qps > 1 (it would sample queue pairs, "
                   "not flows): set output.cc_sample = 0, or qps = 1")
        raise root.table("routing").error("qps", message)
    scenario = Scenario(
        run=run,
        topology=topology,
        switch=switch,
        host=host,
        routing=routing,
        cc=cc,
        traffic=traffic,
        jobs=jobs,
        failures=failures,
        output=output,
        source=file,
        base_dir=base_dir,
    )
    from .protocol import resolve  # checks that every [cc] key applies to the chosen preset

    resolve(scenario)
    return scenario


# --- overrides ---------------------------------------------------------------------------------


def canonical_key(key: str) -> str:
    """The dotted key as errors write it (``"traffic.0.size"`` → ``"traffic[0].size"``)."""
    return _display(_split_key(key))


def check_override_key(raw: Mapping[str, Any], key: str) -> None:
    """Raise ``ScenarioError`` if ``key`` cannot be set in ``raw``: a malformed key, an array
    element that does not exist, or a path through a value that is not a table."""
    _apply_override(copy.deepcopy(dict(raw)), key, None)


def _split_key(key: str) -> list[str | int]:
    """``"traffic[0].size"`` or ``"traffic.0.size"`` → ``["traffic", 0, "size"]``."""
    parts = _INDEX.sub(r".\1", key).split(".")
    if any(not p or "[" in p or "]" in p for p in parts) or parts[0].isdigit():
        shown = json.dumps(key, ensure_ascii=False)
        raise ScenarioError(f"malformed key {shown} (expected e.g. topology.k or traffic[0].size)")
    return [int(p) if p.isdigit() else p for p in parts]


def _display(parts: list[str | int]) -> str:
    """The key path as errors write it: ``traffic[0].size``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _apply_override(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``value`` at the dotted ``key`` of ``raw``, creating missing tables on the way.

    Unknown keys are set like any other, so validation reports them exactly as if they were
    in the file; only array elements that do not exist are refused here.
    """
    parts = _split_key(key)
    where = _display(parts)
    node: Any = raw
    for depth, part in enumerate(parts):
        parent = _display(parts[:depth])
        last = depth == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ScenarioError(f"{parent} is not an array", path=where)
            if part >= len(node):
                count = f"{len(node)} element{'s' if len(node) != 1 else ''}"
                element = _display(parts[: depth + 1])
                raise ScenarioError(f"no element {element} ({parent} has {count})", path=where)
        elif isinstance(node, list):
            raise ScenarioError(f"{parent} is an array: give an index, e.g. {parent}[0].{part}", path=where)
        elif not isinstance(node, dict):
            raise ScenarioError(f"{parent} is not a table", path=where)
        elif not last and part not in node:
            if isinstance(parts[depth + 1], int):
                element, array = _display(parts[: depth + 2]), _display(parts[: depth + 1])
                raise ScenarioError(f"no element {element} ({array} is not set)", path=where)
            node[part] = {}
        if last:
            node[part] = value
        else:
            node = node[part]
