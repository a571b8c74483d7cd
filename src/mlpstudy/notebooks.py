"""Execute a papermill notebook and render it as offline HTML, in one process."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from mlpstudy.io import atomic_path, write_text

log = logging.getLogger("mlpstudy.notebooks")

OFFLINE_TEMPLATE = Path(__file__).parent / "templates" / "notebook_offline.html.j2"


class NotebookFailed(RuntimeError):
    pass


def render_notebook(notebook: str | Path, parameters: dict, executed: str | Path, output_notebook: str | Path,
                    output_html: str | Path) -> None:
    """Run `notebook` with `parameters` into `executed` (the job's log, kept when a cell fails), then copy it
    to `output_notebook` and render `output_html`. Outputs appear only after every cell has run."""
    import papermill
    from nbconvert import HTMLExporter

    log.info("executing %s with %s", notebook, parameters)
    try:
        executed_notebook = papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters, kernel_name="python3", log_output=True,
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{Path(notebook).name} failed in cell {error.exec_count} with {error.ename}: {error.evalue}\n"
            f"The partially executed notebook, with the traceback in its failing cell, is {executed}"
        ) from None
    with atomic_path(output_notebook) as tmp:
        shutil.copyfile(executed, tmp)
    html, _ = HTMLExporter(template_file=str(OFFLINE_TEMPLATE)).from_notebook_node(executed_notebook)
    write_text(output_html, html)
    log.info("wrote %s and %s", output_notebook, output_html)
