"""fmnist off Linux, simulated: the CLI in a process where the POSIX-only modules cannot be imported
and /proc and the cgroup files cannot be read, as on Windows.

There is no Windows machine here, so this is a simulation of what Windows lacks, not Windows: a
``sitecustomize`` on the subprocess's PYTHONPATH (run at interpreter start, and so in the sweep's
spawned workers too) refuses the modules and the files. It catches fmnist code that reaches for
them; it cannot catch a library that behaves differently on Windows itself.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

# Names of os and signal that Windows's Python does not have: the simulation below cannot take them
# away (the standard library's own Linux code uses them), so the source is read for them instead.
POSIX_ONLY_NAMES = {
    "os": {
        "fork", "forkpty", "getuid", "geteuid", "getgid", "getegid", "getpgid", "setsid",
        "killpg", "sysconf", "uname", "wait3", "wait4", "getloadavg", "nice", "chown", "lchown",
        "mkfifo", "sched_getaffinity",
    },
    "signal": {
        "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGPIPE",
        "SIGCONT", "SIGSTOP", "SIGTSTP", "alarm", "pause", "setitimer", "sigwait",
    },
}  # fmt: skip

SITECUSTOMIZE = textwrap.dedent(
    '''
    """Make this Linux process lack, for fmnist's code, what Windows lacks (tests/test_platform.py).

    Only what fmnist asks for is refused: a library's own Linux branch (psutil's reads of /proc,
    filelock's fcntl) is its own, and on Windows it takes its Windows branch instead. Text files
    opened without an encoding get Windows' default, cp1252 (Python's UTF-8 mode is not the
    default there before 3.15); the test sets PYTHONIOENCODING to it for the pipes.
    """
    import builtins
    import io
    import os
    import sys
    import sysconfig

    POSIX_ONLY = {"fcntl", "resource", "pwd", "grp", "termios"}
    LINUX_ONLY_FILES = ("/proc", "/sys/fs/cgroup")
    PASSED_THROUGH = (sysconfig.get_paths()["stdlib"], "<frozen", __file__)


    def fmnist_asks(frame):
        """Whether the nearest caller outside the standard library is fmnist (or the script)."""
        while frame is not None and frame.f_code.co_filename.startswith(PASSED_THROUGH):
            frame = frame.f_back
        name = frame.f_globals.get("__name__", "") if frame is not None else ""
        return name == "__main__" or name.split(".")[0] == "fmnist"


    class RefusePosixOnly:
        """A meta path finder ahead of the others: for fmnist, these modules are not there."""

        def find_spec(self, name, path=None, target=None):
            if name in POSIX_ONLY and fmnist_asks(sys._getframe(1)):
                raise ModuleNotFoundError(f"No module named {name!r} (simulated)", name=name)
            return None


    def refuse_linux_files(real_open):
        def guarded(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)):
                path = os.fsdecode(os.fspath(file))
                if path.startswith(LINUX_ONLY_FILES) and fmnist_asks(sys._getframe(1)):
                    raise FileNotFoundError(2, "No such file or directory (simulated)", path)
            return real_open(file, *args, **kwargs)

        return guarded


    def windows_text(real_open):
        def opened(file, mode="r", buffering=-1, encoding=None, *args, **kwargs):
            if "b" not in mode and encoding in (None, "locale") and fmnist_asks(sys._getframe(1)):
                encoding = "cp1252"
            return real_open(file, mode, buffering, encoding, *args, **kwargs)

        return opened


    for name in POSIX_ONLY:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, RefusePosixOnly())
    # pathlib's reads and writes go through io.open
    builtins.open = io.open = windows_text(refuse_linux_files(io.open))
    os.open = refuse_linux_files(os.open)
    '''
)


@pytest.fixture
def windows_like(tmp_path, real_data_dir):
    """Runs ``fmnist ARGS`` in a simulated-Windows process, in a folder outside the repository."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "FMNIST_DATA": str(real_data_dir),
        "PYTHONIOENCODING": "cp1252",  # stdout and stderr into a pipe, as on Windows
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "fmnist", *args],
            capture_output=True,
            encoding="cp1252",
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert done.returncode == 0, f"fmnist {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    return run


def test_the_simulation_takes_effect(windows_like, tmp_path):
    """Without this, a broken sitecustomize would make the test below pass on anything."""
    probe = (
        "import importlib.util, pathlib\n"
        "for name in ('fcntl', 'resource', 'pwd'):\n"
        "    try: __import__(name)\n"
        "    except ModuleNotFoundError: print('no', name)\n"
        "try: pathlib.Path('/proc/meminfo').read_text()\n"
        "except FileNotFoundError: print('no /proc')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.split("\n")[:4] == ["no fcntl", "no resource", "no pwd", "no /proc"]


def test_the_cli_trains_and_sweeps_without_posix_modules_or_proc(windows_like, tmp_path):
    assert "Usage" in windows_like("--help").stdout
    trained = windows_like("train", "--recipe", "fast", "--quick", "--out", "runs", "--quiet")
    assert "test accuracy" in trained.stdout
    sweep = windows_like(
        "run",
        "s001_hidden_sweep",
        "--points",
        "hidden-5",
        "--points",
        "hidden-10",
        "--seeds",
        "1",
        "--quick",
        "--set",
        "data.train_subset=1000",  # the sweep's own work is not the point: its two processes are
        "--set",
        "train.epochs=1",
        "-j",
        "2",
        "--out",
        "runs",
        "--quiet",
    )
    runs = sorted(
        p.parent.relative_to(tmp_path / "runs").as_posix()
        for p in (tmp_path / "runs").rglob("summary.json")
    )
    assert runs == [
        "fast-quick/seed0",
        "s001_hidden_sweep-quick/hidden-10/seed0",
        "s001_hidden_sweep-quick/hidden-5/seed0",
    ], sweep.stdout
    assert not list((tmp_path / "runs").rglob("*.lock")), "a finished run keeps no lock file"
    assert ROOT not in tmp_path.parents  # run outside the repository, as a user would


def test_fmnist_uses_no_posix_only_names_of_os_and_signal():
    found = []
    for file in sorted((ROOT / "src" / "fmnist").rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                module, names = node.value.id, [node.attr]
            elif isinstance(node, ast.ImportFrom):
                module, names = node.module, [alias.name for alias in node.names]
            else:
                continue
            found += [
                f"{file.relative_to(ROOT)}:{node.lineno}: {module}.{name}"
                for name in names
                if name in POSIX_ONLY_NAMES.get(module, ())
            ]
    assert not found, "POSIX only, missing on Windows:\n" + "\n".join(found)


def test_a_run_held_by_another_process_is_waited_for_and_leaves_no_lock(tmp_path, real_data_dir):
    """The run lock (filelock: flock here, LockFileEx on Windows): a second process on a run waits,
    says so, then makes it; once the run is finished no lock file is left in it."""
    from filelock import FileLock

    (tmp_path / "fast-quick" / "seed0").mkdir(parents=True)
    lock = FileLock(tmp_path / "fast-quick" / "seed0" / ".lock")
    lock.acquire()
    cmd = [sys.executable, "-m", "fmnist", "train", "--recipe", "fast", "--quick", "--quiet"]
    cmd += ["--set", "data.train_subset=1000", "--set", "train.epochs=1", "--out", str(tmp_path)]
    env = {**os.environ, "FMNIST_DATA": str(real_data_dir)}
    worker = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr.readline().startswith("waiting: another process is making")
        assert not (tmp_path / "fast-quick" / "seed0" / "config.yaml").exists()
    finally:
        lock.release()
    _, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    assert (tmp_path / "fast-quick" / "seed0" / "summary.json").is_file()
    assert not (tmp_path / "fast-quick" / "seed0" / ".lock").exists()


def _text_file_calls(tree: ast.AST):
    """Calls that open a text file: open(...) without a binary mode, .read_text(), .write_text()."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("read_text", "write_text"):
            yield node
        elif isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            mode = next((k.value for k in node.keywords if k.arg == "mode"), mode)
            if not (isinstance(mode, ast.Constant) and "b" in mode.value):
                yield node


def test_fmnist_names_the_encoding_of_every_text_file_it_opens():
    """Without one, Python reads and writes text in the locale's encoding: cp1252 on Windows, where
    fmnist's UTF-8 records, recipes and pages would be misread (or fail to decode)."""
    found = [
        f"{file.relative_to(ROOT)}:{call.lineno}"
        for file in sorted((ROOT / "src" / "fmnist").rglob("*.py"))
        for call in _text_file_calls(ast.parse(file.read_text(encoding="utf-8")))
        if not any(k.arg == "encoding" for k in call.keywords)
    ]
    assert not found, "text opened in the locale's encoding:\n" + "\n".join(found)
