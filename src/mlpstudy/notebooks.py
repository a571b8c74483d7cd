"""Execute a papermill notebook and render it as offline HTML, in one process."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from mlpstudy.io import StudyError, atomic_path, write_text

log = logging.getLogger("mlpstudy.notebooks")

OFFLINE_TEMPLATE = Path(__file__).parent / "templates" / "notebook_offline.html.j2"


class NotebookFailed(StudyError):
    pass


# nbconvert's sanitizer allows too few tags for headings and pandas tables; this list adds those and nothing
# that runs: no script, no event-handler attributes, no style.
SAFE_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
SAFE_ATTRIBUTES = {
    "*": ["class", "id"],
    "a": ["href", "title"],
    "th": ["colspan", "rowspan"],
    "td": ["colspan", "rowspan"],
}


def clean_html(html: str | bytes) -> str:
    """Markdown and HTML cell outputs with every tag or attribute not listed above escaped as text (pandas'
    <style> block is dropped first, the page styles its tables)."""
    import bleach

    html = html.decode() if isinstance(html, bytes) else str(html)
    html = re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.DOTALL | re.IGNORECASE)
    return bleach.clean(html, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, protocols={"http", "https", "mailto"})


def html_exporter():
    """The offline page's exporter. Sanitized: cell outputs show config text, which must never become live
    markup in the page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_file=str(OFFLINE_TEMPLATE), sanitize_html=True)
    exporter.register_filter("clean_html", clean_html)
    return exporter


def render_notebook(
    notebook: str, parameters: dict, in_progress: str, executed: str, html: str, files: dict | None = None
) -> None:
    """Run `notebook` with `parameters` and `files` (the notebook's input and output files, by parameter name)
    into `in_progress` (kept, with the traceback, when a cell fails), then copy it to `executed` and render it as
    the offline page `html`. Outputs appear only after every cell has run."""
    import papermill

    parameters = {**(files or {}), **parameters}
    log.info("executing %s with %s", notebook, parameters)
    try:
        executed_notebook = papermill.execute_notebook(
            str(notebook),
            str(in_progress),
            parameters=parameters,
            kernel_name="python3",
            log_output=True,
            progress_bar=False,
            # Every output is in once the last cell has run: stop the kernel at once rather than wait (0.3 s)
            # for it to tear down pandas and matplotlib.
            shutdown_kernel="immediate",
        )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{Path(notebook).name} failed in cell {error.exec_count} with {error.ename}: {error.evalue} "
            f"(the partially executed notebook, with the traceback in its failing cell, is {in_progress})"
        ) from None
    for cell in executed_notebook.cells:  # papermill gives its cell a random id; keep the page reproducible
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
    with atomic_path(executed) as tmp:
        shutil.copyfile(in_progress, tmp)
    page, _ = html_exporter().from_notebook_node(executed_notebook)
    write_text(html, page)
    log.info("wrote %s and %s", executed, html)
