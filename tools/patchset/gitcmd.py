"""Running git (and other tools) in an environment we control."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from .series import PatchsetError

INSTALL_HINT = {
    "git": "install git (e.g. `apt-get install git`)",
    "patch": "install GNU patch (e.g. `apt-get install patch`)",
}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise PatchsetError(f"`{name}` not found in PATH; {INSTALL_HINT.get(name, 'install it')}")
    return path


def clean_env(ceiling: Optional[Path] = None, isolate_config: bool = True) -> dict[str, str]:
    """Environment for git that cannot leak into or from another repository.

    GIT_DIR/GIT_WORK_TREE inherited from e.g. a hook would redirect git to
    some other repository, so every GIT_* variable is dropped.  With a
    ceiling, git never discovers an enclosing repository: `git apply` run
    inside a foreign repo silently skips files outside its cwd.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if ceiling is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(ceiling)
    if isolate_config:
        # user config such as diff.noprefix or apply.whitespace=fix would change results
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
    env.setdefault("LC_ALL", "C")
    return env


def run(args: Sequence[str], cwd: Path, env: Optional[dict[str, str]] = None,
        stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; never raises on non-zero exit."""
    try:
        return subprocess.run(list(args), cwd=str(cwd), env=env, input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, text=True)
    except FileNotFoundError:
        require_tool(args[0])
        raise


def git(args: Sequence[str], cwd: Path, env: Optional[dict[str, str]] = None,
        check: bool = True, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    proc = run(["git", *args], cwd, env if env is not None else clean_env(), stdin)
    if check and proc.returncode != 0:
        msg = first_error(proc.stderr) or proc.stdout.strip()
        raise PatchsetError(f"git {' '.join(args[:2])} failed in {cwd}: {msg}")
    return proc


def first_error(stderr: str) -> str:
    """The most useful single line of a tool's error output."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("error:", "fatal:")):
            return ln
    return lines[0] if lines else ""


def git_bytes(args: list[str], cwd: Path) -> bytes:
    """Binary git output (the text helper would mangle a tar stream)."""
    proc = subprocess.run(["git", *args], cwd=cwd, env=clean_env(ceiling=cwd.resolve().parent),
                          capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise PatchsetError(f"git {args[0]} failed in {cwd}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
