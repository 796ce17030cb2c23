"""Starting, resuming and stopping crawls: the functions the CLI and the demo call."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from spector.collect._crawler import Crawler, CrawlOptions
from spector.collect._profile import SiteProfile, load_profile
from spector.collect._socks import parse_proxy, probe
from spector.collect._state import CrawlState
from spector.collect._urls import blocked, load_blocklist
from spector.errors import ConfigError, UsageError

__all__ = ["resume_crawl", "start_crawl", "state_for"]


def state_for(root: Path) -> CrawlState:
    return CrawlState(root / "collect.sqlite")


def _alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ready(proxy: str, profiles: list[SiteProfile], options: CrawlOptions) -> None:
    """Check the proxy (``socks5h://HOST:PORT``, and answering) and that no site is on
    an abuse blocklist, before anything is written: ProxyError or ConfigError."""
    address = parse_proxy(proxy)
    for profile in profiles:
        for host in profile.hosts:
            if blocked(host, options.blocklist | profile.blocked):
                raise ConfigError(
                    f"site {profile.name!r}: host {host} is on the abuse blocklist; "
                    "Spector never crawls a site flagged for abuse material",
                    where=profile.source or None,
                )
    first = profiles[0]
    asyncio.run(probe(address, first.hosts[0], f"spector-{first.name}", options.probe_timeout))


def start_crawl(
    root: Path,
    profiles: list[Path],
    *,
    proxy: str,
    blocklist: Path | None = None,
    options: CrawlOptions | None = None,
) -> dict[str, object]:
    """A new crawl of ``profiles``; runs until done or stopped.

    Raises ProxyError when the proxy is not ``socks5h://HOST:PORT``, does not answer, or
    goes away during the crawl (the run can then be resumed)."""
    parse_proxy(proxy)
    loaded = [load_profile(p) for p in profiles]
    if not loaded:
        raise UsageError("no site profile given", expected="one or more profile files")
    names = [p.name for p in loaded]
    if len(set(names)) != len(names):
        raise UsageError("two profiles name the same site", expected="one profile per site")
    opts = options or CrawlOptions()
    opts.proxy = proxy
    opts.blocklist = load_blocklist(blocklist)
    _ready(proxy, loaded, opts)
    state = state_for(root)
    try:
        last = state.last_run()
        if last and last["status"] == "running" and _alive(last["pid"]):
            raise UsageError(
                f"crawl run {last['run_id']} is still running (PID {last['pid']})",
                hint="stop it with `spector crawl stop` first",
            )
        run_id = state.new_run(proxy, [str(p.resolve()) for p in profiles], os.getpid())
        return asyncio.run(Crawler(root, loaded, opts, state, run_id).run())
    finally:
        state.close()


def resume_crawl(
    root: Path,
    *,
    proxy: str | None = None,
    options: CrawlOptions | None = None,
    blocklist: Path | None = None,
) -> dict[str, object]:
    """Continue the last crawl where it stopped (or was killed)."""
    state = state_for(root)
    try:
        last = state.last_run()
        if last is None:
            raise UsageError(
                "no crawl to resume in this workspace", hint="use `spector crawl start`"
            )
        if last["status"] == "done":
            raise UsageError(f"crawl run {last['run_id']} is finished; nothing to resume")
        if _alive(last["pid"]):
            raise UsageError(f"crawl run {last['run_id']} is still running (PID {last['pid']})")
        loaded = [load_profile(Path(p)) for p in last["profiles"]]
        opts = options or CrawlOptions()
        opts.proxy = proxy or last["proxy"]
        opts.blocklist = load_blocklist(blocklist)
        _ready(opts.proxy, loaded, opts)
        state.set_run(last["run_id"], status="running", pid=os.getpid())
        return asyncio.run(Crawler(root, loaded, opts, state, int(last["run_id"])).run())
    finally:
        state.close()
