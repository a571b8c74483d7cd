rule prepare_data:
    input:
        data_source(),
    output:
        dataset=study_path("results/data/dataset.npz"),
        summary=study_path("results/data/dataset.json"),
    log:
        study_path("logs/prepare_data/prepare_data.log"),
    benchmark:
        study_path("results/benchmarks/prepare_data.tsv")
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(settings={key: config[key] for key in DATA_SETTINGS}),
        files=step_files(),
    shell:
        "python -m mlpstudy prepare-data {params.settings:q} {params.files:q} 2> {log}"


rule data_overview:
    input:
        notebook=NOTEBOOKS / "data_overview.ipynb",
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        **{
            f"{key}_figure": in_report(data_figure(key), f"data/{key}", "Data", labels={"figure": title})
            for key, title in DATA_FIGURES.items()
        },
        executed=study_path("results/data/data_overview.ipynb"),
        html=study_path("results/data/data_overview.html"),
    log:
        study_path("logs/data_overview/data_overview.log"),
    benchmark:
        study_path("results/benchmarks/data_overview.tsv")
    conda:
        ENVIRONMENT
    params:
        # Where papermill writes as it runs, kept when a cell fails (not a log: the console shows failed logs).
        settings=step_settings(in_progress=study_path("logs/data_overview/data_overview.ipynb"), parameters={}),
        files=notebook_files,
    shell:
        "python -m mlpstudy render-notebook {params.settings:q} {params.files:q} 2> {log}"
