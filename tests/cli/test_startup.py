"""The `spector` command starts without its heavy libraries, and the packages that re-export
lazily (spector._lazy) give the same names, objects and registries as eager ones did."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("numba", "duckdb", "pyarrow", "dateparser", "pydantic", "aiohttp", "bip_utils")
HEAVY += ("numpy", "httpx", "warcio", "selectolax", "puremagic", "charset_normalizer")
LAZY = ("spector.chain", "spector.collect", "spector.extract", "spector.model")
LAZY += ("spector.sim", "spector.store")


def _fresh(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing imported before it)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["import", "--help"]])
def test_the_command_starts_without_heavy_libraries(args):
    out = _fresh(
        "import sys, contextlib, io, json\n"
        "import spector.cli\n"
        "spector.cli.build_app()\n"
        "with contextlib.redirect_stdout(io.StringIO()) as shown:\n"
        f"    code = spector.cli.main({args!r})\n"
        f"print(json.dumps([code, shown.getvalue(), [m for m in {HEAVY!r} if m in sys.modules]]))"
    )
    code, shown, loaded = json.loads(out)
    assert code == 0
    assert shown.startswith("spector ") if args == ["--version"] else "Usage" in shown
    # Typer itself imports pydantic (typer._adapters) to build a group's options for help
    assert loaded == ([] if len(args) == 1 else ["pydantic"])


def test_a_command_still_imports_what_it_needs():
    out = _fresh(
        "import sys, contextlib, io\n"
        "import spector.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    spector.cli.main(['selectors', 'check', 'btc_address', "
        "'1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '--json'])\n"
        "print('bip_utils' in sys.modules, 'duckdb' in sys.modules)"
    )
    assert out.split() == ["True", "False"]


@pytest.mark.parametrize("name", LAZY)
def test_a_lazy_package_exports_what_it_says(name):
    package = importlib.import_module(name)
    for export in package.__all__:
        value = getattr(package, export)
        module = getattr(value, "__module__", None)
        if module and module.startswith(name + "."):  # the very object its module holds
            assert getattr(sys.modules[module], export, value) is value
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = package.no_such_name
    listed, star = _fresh(  # in a new interpreter: dir() before any name was asked for
        f"import {name}\nprint(' '.join(dir({name})))\nfrom {name} import *\nprint(' '.join(dir()))"
    ).splitlines()
    assert set(package.__all__) <= set(listed.split())
    assert set(package.__all__) <= set(star.split())


def test_selector_kinds_are_registered_whichever_module_comes_first():
    """The kinds' modules fill the registry; the package no longer imports them first."""
    everything = _fresh(
        "from spector.model import all_selector_kinds\n"
        "print(' '.join(k.name for k in all_selector_kinds()))"
    ).split()
    assert {"btc_address", "onion"} <= set(everything)
    for first in ("spector.model._records", "spector.model._selector_base", "spector.model._ids"):
        out = _fresh(
            f"import {first}\n"
            "from spector.model._selector_base import all_selector_kinds, selector_kind\n"
            "print(selector_kind('btc_address').name)\n"
            "print(' '.join(k.name for k in all_selector_kinds()))"
        ).splitlines()
        assert out == ["btc_address", " ".join(everything)], first
