import nbformat
import pytest
from conftest import HOSTILE, live_markup

from mlpstudy.notebooks import NotebookFailed, render_notebook


def write_notebook(path, *sources):
    parameters = nbformat.v4.new_code_cell("value = 0")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, *map(nbformat.v4.new_code_cell, sources)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_renders_an_offline_page_with_the_parameters_applied(tmp_path):
    notebook = write_notebook(tmp_path / "in.ipynb", "print(f'value is {value}')")
    render_notebook(notebook, {"value": 41}, tmp_path / "log.ipynb", tmp_path / "out.ipynb", tmp_path / "out.html")
    html = (tmp_path / "out.html").read_text()
    assert "value is 41" in html
    assert "<script src=" not in html and "cdnjs" not in html and "import mermaid" not in html
    assert (tmp_path / "out.ipynb").read_bytes() == (tmp_path / "log.ipynb").read_bytes()


def test_a_failing_cell_names_the_partial_notebook_and_writes_no_output(tmp_path):
    notebook = write_notebook(tmp_path / "in.ipynb", "print('fine')", "raise ValueError('no such experiment')")
    with pytest.raises(NotebookFailed) as failure:
        render_notebook(notebook, {}, tmp_path / "log.ipynb", tmp_path / "out.ipynb", tmp_path / "out.html")
    message = str(failure.value)
    assert "ValueError: no such experiment" in message and str(tmp_path / "log.ipynb") in message
    assert "no such experiment" in (tmp_path / "log.ipynb").read_text()
    assert not (tmp_path / "out.ipynb").exists() and not (tmp_path / "out.html").exists()


def test_config_text_in_outputs_never_becomes_live_markup(tmp_path):
    """The sanitizer is on: even text a notebook forgot to escape is shown, not run; headings and tables stay."""
    notebook = write_notebook(
        tmp_path / "in.ipynb",
        "from IPython.display import HTML, Markdown, display\nimport pandas as pd",
        "for text in value:\n    display(HTML(text))\n    display(Markdown(text))",
        "pd.DataFrame({'accuracy': [0.97]}, index=['mlp_64x1'])",
    )
    notebook_node = nbformat.read(notebook, as_version=4)
    notebook_node.cells.insert(1, nbformat.v4.new_markdown_cell("## Learning curves"))
    nbformat.write(notebook_node, notebook)
    assert live_markup("".join(HOSTILE.values())), "the check must see live payloads"
    render_notebook(
        notebook,
        {"value": list(HOSTILE.values())},
        tmp_path / "log.ipynb",
        tmp_path / "out.ipynb",
        tmp_path / "out.html",
    )
    html = (tmp_path / "out.html").read_text()
    assert live_markup(html) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<h2 id="Learning-curves">' in html and "<th>accuracy</th>" in html and "<td>0.97</td>" in html
