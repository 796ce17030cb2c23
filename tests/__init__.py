"""Spector's tests (a package, so that ``tests.<stage>`` helpers win over any ``tests``
package a dependency installs into site-packages: base58check, cashaddress and
coinaddrvalidator, pulled in by tagpack-tool, each ship one)."""
