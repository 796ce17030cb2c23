"""Tor control: ask Tor for new circuits (NEWNYM) when a site keeps failing.

Uses stem, Tor's own controller library. stem 1.8 is the last release and calls
``Thread.setDaemon``, deprecated since Python 3.10; that warning is stem's, not ours, and
is silenced around the call only.
"""

from __future__ import annotations

import logging
import warnings

from spector.errors import UsageError

__all__ = ["new_identity", "parse_control"]

log = logging.getLogger("spector.collect.tor")


def parse_control(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--tor-control {value!r}", expected="HOST:PORT of Tor's ControlPort")
    return host, int(port)


def new_identity(control: str, password: str | None) -> bool:
    """Send NEWNYM to Tor's ControlPort; True when Tor accepted it. Failures are logged."""
    try:
        from stem import Signal, SocketError
        from stem.connection import AuthenticationFailure
        from stem.control import Controller
    except ImportError as exc:
        raise UsageError("Tor control needs stem: pip install 'spector[tor]'") from exc
    host, port = parse_control(control)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            with Controller.from_port(address=host, port=port) as controller:
                controller.authenticate(password=password)
                controller.signal(Signal.NEWNYM)
        except (SocketError, AuthenticationFailure) as exc:
            log.warning("Tor control at %s refused NEWNYM: %s", control, exc)
            return False
    return True
