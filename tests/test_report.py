import inspect

import pandas as pd
import pytest

from mlpstudy.io import ResultFileError
from mlpstudy.report import render_report, stage_timing


def write_benchmark(path, rows):
    pd.DataFrame(rows, columns=["s", "h:m:s", "max_rss", "cpu_time"]).to_csv(path, sep="\t", index=False)


def test_stage_timing_sums_each_stages_jobs_and_skips_stages_without_any(tmp_path):
    write_benchmark(tmp_path / "a.tsv", [[10.0, "0:00:10", 300.0, 9.0]])
    write_benchmark(tmp_path / "b.tsv", [[30.0, "0:00:30", 900.0, 28.0]])
    write_benchmark(tmp_path / "c.tsv", [[2.0, "0:00:02", "-", "-"]])  # what Snakemake writes when it measured none
    timing = stage_timing(
        {"train": [tmp_path / "a.tsv", tmp_path / "b.tsv"], "refit": [], "report": [tmp_path / "c.tsv"]}
    )
    assert timing == [
        {
            "stage": "train",
            "jobs": 2,
            "total_seconds": 40.0,
            "median_seconds": 20.0,
            "cpu_seconds": 37.0,
            "max_rss_mb": 900.0,
        },
        {
            "stage": "report",
            "jobs": 1,
            "total_seconds": 2.0,
            "median_seconds": 2.0,
            "cpu_seconds": 0.0,
            "max_rss_mb": pytest.approx(float("nan"), nan_ok=True),
        },
    ]


def test_the_report_checks_every_promised_file_before_it_reads_or_writes_anything(tmp_path):
    damaged = tmp_path / "comparison.csv"
    damaged.write_text('experiment,label\n"unclosed')
    arguments = {name: str(tmp_path / "absent") for name in inspect.signature(render_report).parameters}
    arguments.update(check=[str(damaged)], html=str(tmp_path / "report.html"))
    with pytest.raises(ResultFileError, match="comparison.csv is damaged"):
        render_report(**arguments)
    assert not (tmp_path / "report.html").exists()
