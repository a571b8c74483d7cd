"""Write outputs so that a killed job never leaves a file that looks complete; read them back checked, so
that a missing or damaged file is named with the command that rebuilds it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + path.suffix, dir=path.parent)
    os.close(handle)
    # mkstemp creates 0600; give the result the permissions an ordinary open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class StudyError(Exception):
    """A problem the person running the study can fix; the command line prints its message as one line."""


class ResultFileError(StudyError):
    """A results file that is missing, unreadable or incomplete; the message names it and how to rebuild it."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(
            f"{path} {problem}. Rebuild it and everything that depends on it: "
            f"snakemake --cores 2 --forcerun {path} (with this run's other options, e.g. --configfile)"
        )


@contextlib.contextmanager
def reading(path: str | Path, kind: str):
    """Turn any failure to parse `path` into a ResultFileError naming it."""
    if not os.path.isfile(path):
        raise ResultFileError(path, "is missing")
    try:
        yield
    except StudyError:
        raise
    except Exception as error:  # noqa: BLE001 - json, zip, csv and numpy errors alike, all named in the message
        raise ResultFileError(path, f"is damaged: not a readable {kind} ({type(error).__name__}: {error})") from None


def _require(path, present, required, what: str) -> None:
    missing = [name for name in required if name not in present]
    if missing:
        raise ResultFileError(path, f"is incomplete: it lacks the {what} {missing}")


def params_json(data) -> str:
    """JSON for a rule's params, with `<`, `>` and `&` written as JSON escapes (the same text to the step that
    parses it): `snakemake --report` embeds params in a <script> block, where config text could end it."""
    text = json.dumps(data, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def read_json(path: str | Path, required: tuple[str, ...] = ()):
    with reading(path, "JSON file"), open(path) as handle:
        data = json.load(handle)
    _require(path, data, required, "key(s)")
    return data


def read_csv(path: str | Path, required: tuple[str, ...] = (), **options):
    import pandas as pd

    with reading(path, "CSV table"):
        table = pd.read_csv(path, **options)
    _require(path, table.columns, required, "column(s)")
    return table


def read_npz(path: str | Path, required: tuple[str, ...]) -> dict:
    """The arrays `required` of an .npz, read in full (a truncated array fails here, not later)."""
    import numpy as np

    with reading(path, ".npz archive"), np.load(path, allow_pickle=False) as npz:
        _require(path, npz.files, required, "array(s)")
        return {name: npz[name] for name in required}


def check_file(path: str | Path) -> None:
    """Check a results file that no step parses (models, executed notebooks, pages) or any other, by its kind:
    parseable, complete and with intact checksums where the format has them."""
    suffix = Path(path).suffix
    if suffix == ".json" or suffix == ".ipynb":
        read_json(path)
    elif suffix in (".csv", ".tsv"):
        read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".png":
        read_png(path)
    elif suffix in (".npz", ".keras"):  # zip archives, each member with its CRC
        with reading(path, f"{suffix} archive"), zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
        if damaged:
            raise ResultFileError(path, f"is damaged: its member {damaged} fails its checksum")
    elif suffix == ".html":
        with reading(path, "HTML page"):
            complete = Path(path).read_text().rstrip().endswith("</html>")
        if not complete:
            raise ResultFileError(path, "is damaged: the page ends before </html>")
    elif not os.path.isfile(path):
        raise ResultFileError(path, "is missing")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path: str | Path) -> bytes:
    """A PNG's bytes, after checking that it starts and ends like one (a truncated figure fails here)."""
    with reading(path, "PNG image"):
        data = Path(path).read_bytes()
    if not (data.startswith(PNG_SIGNATURE) and data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND"):
        raise ResultFileError(path, "is damaged: not a complete PNG image")
    return data
