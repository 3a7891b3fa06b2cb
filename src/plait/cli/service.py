"""`plait service install|uninstall|status [PROJECT]`: the project's engine as a user
service (systemd on Linux, launchd on macOS) that survives logout and reboot.

See `plait.service` for what is written where; `--print` shows the unit without
installing it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from plait import exits
from plait.cli.common import add_json_flag, print_json
from plait.engine.project import open_project
from plait.service import KINDS, Service, default_kind, install, render, status, uninstall
from plait.store.paths import plait_home, project_paths


def _service(args: argparse.Namespace) -> Service:
    proj = open_project(args.project)
    name = proj.name
    proj.close()
    paths = project_paths(name)
    return Service(
        project=name,
        kind=args.kind or default_kind(),
        python=sys.executable,
        home=str(plait_home()),
        path=os.environ.get("PATH", "/usr/bin:/bin"),
        env_file=str(paths.root / "service.env"),
        log=str(paths.engine_log),
    )


def cmd_install(args: argparse.Namespace) -> int:
    service = _service(args)
    if args.print:
        print(render(service), end="")
        return exits.OK
    path = install(service, Path.home())
    print(f"service {service.name} installed ({path}) and started; it restarts on failure "
          f"and runs after logout and reboot. Put secrets (GITHUB_TOKEN=…) in "
          f"{service.env_file}, then `plait service install` again to restart it")  # fmt: skip
    return exits.OK


def cmd_uninstall(args: argparse.Namespace) -> int:
    service = _service(args)
    if uninstall(service, Path.home()):
        print(f"service {service.name} stopped and removed")
    else:
        print(f"service {service.name} is not installed")
    return exits.OK


def cmd_status(args: argparse.Namespace) -> int:
    service = _service(args)
    found = status(service, Path.home())
    if args.json:
        print_json({
            "service": service.name, "installed": found.installed, "enabled": found.enabled,
            "running": found.running, "path": found.path,
        })  # fmt: skip
        return exits.OK
    if not found.installed:
        print(f"service {service.name} is not installed (`plait service install "
              f"{service.project}`)")  # fmt: skip
        return exits.OK
    print(f"service {service.name}: installed ({found.path}), "
          f"{'enabled' if found.enabled else 'not enabled'}, "
          f"{'running' if found.running else 'not running'}")  # fmt: skip
    return exits.OK


def register(sub: Any) -> None:
    service = sub.add_parser(
        "service", help="run a project's engine as a user service (systemd or launchd)"
    )
    verbs = service.add_subparsers(
        dest="verb", metavar="VERB", required=True, help="install, status or uninstall"
    )
    for verb, handler, text in (
        ("install", cmd_install, "write, enable and start the service"),
        ("uninstall", cmd_uninstall, "stop, disable and remove the service"),
        ("status", cmd_status, "whether the service is installed, enabled and running"),
    ):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("project", nargs="?", help="the project (default: the only one)")
        p.add_argument("--kind", choices=KINDS, help="systemd or launchd (default: this OS's)")
        if verb == "install":
            p.add_argument("--print", action="store_true",
                           help="print the unit (or plist) instead of installing it")  # fmt: skip
        if verb == "status":
            add_json_flag(p, "one JSON object")
        p.set_defaults(handler=handler)
