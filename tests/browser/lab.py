"""A small harness for browser tests: a throwaway Jupyter server, headless Chromium, notebooks.

Used by ``tests/browser/test_*.py`` and by ``benchmarks/widgets_browser.py``:

- :func:`jupyter_server` starts ``python -m jupyter lab`` (or ``notebook``) from this Python
  (``sys.executable``) on a free localhost port, with no token and no password, every Jupyter
  folder (config, data, runtime, IPython) isolated in a temporary folder, and stops it and its
  kernels on exit. The installed front-end extensions (``<sys.prefix>/share/jupyter/labextensions``:
  ``@jupyter-widgets/jupyterlab-manager``, ``anywidget``) are still found,
  because that folder stays on Jupyter's data path; :meth:`JupyterServer.labextensions` lists what
  the page will load. One ``jupyter lab`` server also serves Notebook 7 (``/tree``,
  ``/notebooks/...``) when the ``notebook`` package is installed: both are server extensions.
- :func:`launch_chromium` launches the system Chromium through Playwright (never a downloaded
  browser: no ``playwright install``).
- :func:`open_notebook`, :func:`run_all_cells`, :func:`wait_kernel_idle` and
  :func:`wait_for_plot_title` drive JupyterLab (``/lab/tree/<name>``) or Notebook 7
  (``/notebooks/<name>``) through their own UI: the "Run → Run All Cells" menu item.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

FRONT_ENDS = ("lab", "notebook")
"""The front ends the helpers know: JupyterLab 4 and Notebook 7."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

#: The title of the Scrubber's points panel ("step N · layer L"), in the widget and in the
#: exported page alike (one front end).
PLOT_TITLE = ".repscope .rs-points-title"
"""CSS selector of the scrubber's points title (it changes with every step drawn)."""

# JupyterLab settings for the isolated settings folder: no news or update toasts over the page.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

_RUN_ALL_ITEM = (
    '.lm-Menu-item[data-command="runmenu:run-all"], '
    '.lm-Menu-item[data-command="notebook:run-all-cells"]'
)

# The notebook toolbar's kernel name and execution status, in either front end.
_KERNEL_STATE_JS = """() => {
    const shown = '.jp-NotebookPanel:not(.lm-mod-hidden) ';
    const name = document.querySelector(shown + '.jp-Toolbar-kernelName')
        || document.querySelector('.jp-Toolbar-kernelName');
    const status = document.querySelector(shown + '.jp-Notebook-ExecutionIndicator')
        || document.querySelector('.jp-Notebook-ExecutionIndicator');
    return [name ? name.textContent : null, status ? status.dataset.status : null];
}"""

_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 20.0


def find_chromium() -> str | None:
    """The system Chromium's path: ``/usr/bin/chromium``, else ``chromium`` on ``PATH``.

    Returns
    -------
    str or None
        The executable, or ``None`` when there is none.
    """
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Returns
    -------
    int
        The port the operating system handed out for a throwaway socket.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterServer:
    """A running Jupyter server started by :func:`jupyter_server`.

    Attributes
    ----------
    app : str
        ``"lab"`` or ``"notebook"``: the application that was started.
    url : str
        Base URL, ending in ``/``.
    root_dir : pathlib.Path
        The folder the server serves notebooks from.
    log_path : pathlib.Path
        The server's stdout and stderr.
    process : subprocess.Popen
        The server process (leader of its own process group).
    """

    app: str
    url: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server log.

        Parameters
        ----------
        lines : int
            How many lines.

        Returns
        -------
        str
            The lines, joined (empty when there is no log yet).
        """
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def api(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``/api/<path>`` and decode the JSON answer.

        Parameters
        ----------
        path : str
            The part after ``/api/``, e.g. ``"kernels"``.
        timeout : float
            Seconds.

        Returns
        -------
        object
            The decoded JSON.
        """
        with urllib.request.urlopen(self.url + "api/" + path, timeout=timeout) as answer:
            return json.loads(answer.read())

    def labextensions(self) -> list[str]:
        """Names of the prebuilt front-end extensions the Lab page loads.

        Returns
        -------
        list of str
            E.g. ``["@jupyter-widgets/jupyterlab-manager", "anywidget", ...]``.
        """
        with urllib.request.urlopen(self.url + "lab", timeout=10) as answer:
            page = answer.read().decode("utf-8")
        found = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
        )
        if found is None:
            return []
        config = json.loads(found.group(1))
        return sorted(ext["name"] for ext in config.get("federated_extensions", []))

    def write_notebook(self, name: str, sources: Sequence[str]) -> str:
        """Write a notebook of code cells into the root folder.

        The notebook carries the ``python3`` kernelspec, so that opening it starts that kernel
        without a "Select Kernel" dialog.

        Parameters
        ----------
        name : str
            File name; ``.ipynb`` is appended when missing.
        sources : sequence of str
            The code cells' sources, in order.

        Returns
        -------
        str
            The file name relative to the root folder (what :func:`open_notebook` takes).
        """
        import nbformat

        if not name.endswith(".ipynb"):
            name += ".ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, self.root_dir / name)
        return name


def _server_env(base: Path, extra_pythonpath: Sequence[str | os.PathLike]) -> dict[str, str]:
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
    }
    for key, folder in dirs.items():
        folder.mkdir(parents=True, exist_ok=True)
        env[key] = str(folder)
    # JupyterLab's user settings and workspaces default to the config folder; say so anyway.
    settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings"
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(dirs["JUPYTER_CONFIG_DIR"] / "lab" / "workspaces")
    for rel, value in _LAB_SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), encoding="utf-8")
    # Not the user's platformdirs or site config either; the venv's share/jupyter stays on the
    # data path (it is sys.prefix of the server's Python), so the labextensions are found.
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    paths = [str(REPO_ROOT), *(str(p) for p in extra_pythonpath)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stop(process: subprocess.Popen, timeout: float = _STOP_TIMEOUT_S) -> None:
    """SIGTERM (the server then shuts its kernels down), then SIGKILL to the process group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Whatever the server started and left behind (kernels) is in its process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


@contextlib.contextmanager
def jupyter_server(
    app: str = "lab",
    *,
    base_dir: str | os.PathLike | None = None,
    timeout: float = _START_TIMEOUT_S,
    extra_pythonpath: Sequence[str | os.PathLike] = (),
    extra_args: Sequence[str] = (),
) -> Iterator[JupyterServer]:
    """Start a headless Jupyter server; stop it and its kernels on exit.

    Parameters
    ----------
    app : {"lab", "notebook"}
        ``python -m jupyter lab`` or ``python -m jupyter notebook`` (Notebook 7).
    base_dir : path-like, optional
        Folder for the server's root folder (``root/``), its isolated Jupyter folders and its
        log; a temporary folder (removed afterwards) when not given.
    timeout : float
        Seconds to wait for ``/api/status`` to answer.
    extra_pythonpath : sequence of path-like
        Folders put on the server's (and so the kernels') ``PYTHONPATH`` after the repository
        root.
    extra_args : sequence of str
        More command-line arguments for the server.

    Yields
    ------
    JupyterServer
        The running server.

    Raises
    ------
    RuntimeError
        When the server exits or does not answer in time; the message holds the log's tail.
    """
    if app not in FRONT_ENDS:
        raise ValueError(f"app must be one of {FRONT_ENDS}, got {app!r}")
    with contextlib.ExitStack() as stack:
        if base_dir is None:
            base_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="repscope-jupyter-"))
        base = Path(base_dir)
        root = base / "root"
        root.mkdir(parents=True, exist_ok=True)
        log_path = base / f"jupyter-{app}.log"
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            app,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--PasswordIdentityProvider.hashed_password=",
            "--PasswordIdentityProvider.password_required=False",
            f"--ServerApp.root_dir={root}",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            *extra_args,
        ]
        log_file = stack.enter_context(open(log_path, "wb"))
        process = subprocess.Popen(
            cmd,
            cwd=root,
            env=_server_env(base, extra_pythonpath),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(_stop, process)
        server = JupyterServer(app, f"http://127.0.0.1:{port}/", root, log_path, process)
        _wait_until_up(server, timeout)
        yield server


def _wait_until_up(server: JupyterServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter {server.app} exited with code {server.process.returncode} before "
                f"answering; log ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            server.api("status", timeout=2)
            return
        except (urllib.error.URLError, OSError, ValueError) as error:
            last_error = error
            time.sleep(0.25)
    raise RuntimeError(
        f"jupyter {server.app} did not answer {server.url}api/status within {timeout:.0f} s "
        f"(last error: {last_error}); log ({server.log_path}):\n{server.log_tail()}"
    )


def launch_chromium(
    playwright: Any, *, executable_path: str | None = None, args: Sequence[str] = ()
) -> Any:
    """Launch the system Chromium, headless, through Playwright.

    Playwright gives every launch a fresh temporary profile (``--user-data-dir``) and removes it
    when the browser closes.

    Parameters
    ----------
    playwright : playwright.sync_api.Playwright
        From ``sync_playwright().start()`` or ``with sync_playwright() as playwright``.
    executable_path : str, optional
        The browser; :func:`find_chromium` when not given.
    args : sequence of str
        More Chromium switches after :data:`CHROMIUM_ARGS`.

    Returns
    -------
    playwright.sync_api.Browser
        The browser; close it (``browser.close()``) when done.

    Raises
    ------
    FileNotFoundError
        When there is no Chromium.
    """
    executable_path = executable_path or find_chromium()
    if executable_path is None:
        raise FileNotFoundError(
            "no Chromium: install it with `apt-get install -y chromium` (Debian)"
        )
    return playwright.chromium.launch(
        executable_path=executable_path,
        headless=True,
        args=[*CHROMIUM_ARGS, *args],
    )


def notebook_url(server: JupyterServer, name: str, front_end: str = "lab") -> str:
    """The URL that opens notebook ``name`` in JupyterLab or in Notebook 7.

    Parameters
    ----------
    server : JupyterServer
        The server.
    name : str
        Notebook path relative to the server's root folder.
    front_end : {"lab", "notebook"}
        JupyterLab (``/lab/tree/<name>``) or Notebook 7 (``/notebooks/<name>``).

    Returns
    -------
    str
        The URL.
    """
    if front_end == "lab":
        return f"{server.url}lab/tree/{name}"
    if front_end == "notebook":
        return f"{server.url}notebooks/{name}"
    raise ValueError(f"front_end must be one of {FRONT_ENDS}, got {front_end!r}")


def _accept_kernel_dialog(page: Any) -> bool:
    """Accept a "Select Kernel" dialog (its default: the notebook's kernel) if one is open."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and "kernel" in dialog.first.inner_text().lower():
        dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        return True
    return False


def open_notebook(
    page: Any,
    server: JupyterServer,
    name: str,
    front_end: str = "lab",
    *,
    reset: bool = False,
    timeout: float = 90.0,
) -> None:
    """Open a notebook and wait until its kernel is connected and idle.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The browser page.
    server : JupyterServer
        The server that serves the notebook.
    name : str
        Notebook path relative to the server's root folder.
    front_end : {"lab", "notebook"}
        Where to open it.
    reset : bool
        JupyterLab only: start from an empty workspace (``?reset``), so that notebooks opened
        earlier on this server are not restored beside this one.
    timeout : float
        Seconds for the page to load and the kernel to start.
    """
    url = notebook_url(server, name, front_end)
    if reset and front_end == "lab":
        url += "?reset"
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    cell = page.locator(".jp-Notebook .jp-Cell").first
    while time.monotonic() < deadline:
        _accept_kernel_dialog(page)
        if cell.count() and cell.is_visible():
            break
        page.wait_for_timeout(250)
    else:
        raise TimeoutError(f"{front_end}: no notebook cell showed within {timeout:.0f} s")
    wait_kernel_idle(page, timeout=max(deadline - time.monotonic(), 5.0))


def wait_kernel_idle(page: Any, *, timeout: float = 90.0) -> None:
    """Wait until the notebook has a kernel and its status reads idle.

    Both front ends show the kernel's name in the notebook toolbar (``.jp-Toolbar-kernelName``:
    "No Kernel" until a session exists) and its status in the execution indicator
    (``.jp-Notebook-ExecutionIndicator[data-status]``, which can read "idle" before there is a
    kernel at all). Both must agree on two polls in a row. A "Select Kernel" dialog, if one opens
    meanwhile, is accepted.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page with the notebook.
    timeout : float
        Seconds.
    """
    deadline = time.monotonic() + timeout
    state: tuple[str | None, str | None] = (None, None)
    ready_polls = 0
    while time.monotonic() < deadline:
        _accept_kernel_dialog(page)
        state = page.evaluate(_KERNEL_STATE_JS)
        name, status = state
        ready = bool(name) and name.strip().lower() != "no kernel" and status == "idle"
        ready_polls = ready_polls + 1 if ready else 0
        if ready_polls >= 2:
            return
        page.wait_for_timeout(200)
    raise TimeoutError(
        f"kernel not idle within {timeout:.0f} s (last kernel name and status: {state!r})"
    )


def run_all_cells(page: Any, *, timeout: float = 90.0, until: Path | None = None) -> None:
    """Run every cell through the "Run → Run All Cells" menu item, then wait for idle.

    The same Lumino main menu exists in JupyterLab and in Notebook 7; the item's command is
    ``runmenu:run-all`` (``notebook:run-all-cells`` in some versions: either is clicked).

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page with the notebook, already open (:func:`open_notebook`).
    timeout : float
        Seconds for the cells to run.
    until : Path, optional
        A file the notebook's last cell writes: the cells are done when it exists (a
        notebook longer than the screen: JupyterLab draws only the cells near it, so their
        prompts cannot tell). A cell's error output ends the wait at once.
    """
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).first.click()
    item = page.locator(_RUN_ALL_ITEM).first
    item.wait_for(state="visible", timeout=10_000)
    item.click()
    deadline = time.monotonic() + timeout
    if until is not None:
        while not until.exists():
            errors = cell_errors(page)
            if errors:
                raise RuntimeError("a cell failed, the rest will not run:\n" + "\n".join(errors))
            if time.monotonic() > deadline:
                raise TimeoutError(f"cells did not finish within {timeout:.0f} s")
            page.wait_for_timeout(500)
        wait_kernel_idle(page, timeout=max(deadline - time.monotonic(), 5.0))
        return
    # Every cell then shows an execution count; wait for that and for the kernel to go idle.
    # Only the notebook shown: JupyterLab restores notebooks opened earlier in hidden tabs,
    # whose prompts stay "[ ]".
    prompts = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .jp-InputPrompt"
    )
    while time.monotonic() < deadline:
        texts = prompts.all_inner_texts()
        if texts and all(re.search(r"\[\d+\]", text) for text in texts):
            break
        page.wait_for_timeout(200)
    else:
        raise TimeoutError(f"cells did not finish within {timeout:.0f} s")
    wait_kernel_idle(page, timeout=max(deadline - time.monotonic(), 5.0))


def cell_errors(page: Any) -> list[str]:
    """Texts of the stderr outputs on the page: tracebacks, and warnings a cell printed.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page with the notebook.

    Returns
    -------
    list of str
        One per output; empty when no cell raised or warned.
    """
    return page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).all_inner_texts()


def widget_texts(page: Any) -> list[str]:
    """Non-empty texts of the ipywidgets ``HTML`` widgets on the page (where a widget such as
    the Scrubber shows its messages and errors).

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page.

    Returns
    -------
    list of str
        The texts, in page order.
    """
    texts = page.locator(".widget-html-content").all_inner_texts()
    return [text.strip() for text in texts if text.strip()]


def plot_title(page: Any, selector: str = PLOT_TITLE) -> str | None:
    """The text of the first scrubber title on the page, or ``None`` when there is none.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page.
    selector : str
        CSS selector of the title element.

    Returns
    -------
    str or None
        Its ``textContent``.
    """
    title = page.locator(selector).first
    return title.text_content() if title.count() else None


def wait_for_plot_title(
    page: Any, expected: str | None = None, *, selector: str = PLOT_TITLE, timeout: float = 60.0
) -> str:
    """Wait for the scrubber's points title to show (and, if given, to read ``expected``).

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page.
    expected : str, optional
        The exact text to wait for; any text when not given.
    selector : str
        CSS selector of the title element.
    timeout : float
        Seconds.

    Returns
    -------
    str
        The title's text at the end of the wait.

    Raises
    ------
    TimeoutError
        With the last text seen.
    """
    deadline = time.monotonic() + timeout
    text = None
    while time.monotonic() < deadline:
        text = plot_title(page, selector)
        if text is not None and (expected is None or text == expected):
            return text
        page.wait_for_timeout(100)
    want = "any title" if expected is None else repr(expected)
    raise TimeoutError(f"plot title: waited {timeout:.0f} s for {want}, last saw {text!r}")


def screenshot(page: Any, path: str | os.PathLike) -> Path | None:
    """Save a full-page screenshot, never raising (for failure reports).

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page.
    path : path-like
        The PNG file.

    Returns
    -------
    pathlib.Path or None
        The file, or ``None`` when the screenshot failed.
    """
    try:
        page.screenshot(path=str(path), full_page=True, timeout=15_000)
    except Exception:
        return None
    return Path(path)
