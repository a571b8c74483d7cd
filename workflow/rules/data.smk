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
        settings=data_settings(),
    shell:
        "python -m mlpstudy prepare-data --settings {params.settings:q}"
        " --dataset {output.dataset} --summary {output.summary} 2> {log}"


rule data_overview:
    input:
        notebook=NOTEBOOKS / "data_overview.ipynb",
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        notebook=study_path("results/data/data_overview.ipynb"),
        html=study_path("results/data/data_overview.html"),
        figures=[
            in_report(
                study_path(f"results/data/figures/{figure}.png"), f"data/{figure}", "Data", labels={"figure": title}
            )
            for figure, title in DATA_FIGURES.items()
        ],
    log:
        study_path("logs/data_overview/data_overview.log"),
    benchmark:
        study_path("results/benchmarks/data_overview.tsv")
    conda:
        ENVIRONMENT
    params:
        parameters=data_overview_parameters,
        # Where papermill writes as it runs, kept when a cell fails (not a log: the console shows failed logs).
        executed=study_path("logs/data_overview/data_overview.ipynb"),
    shell:
        "python -m mlpstudy render-notebook --notebook {input.notebook:q} --parameters {params.parameters:q}"
        " --executed {params.executed:q} --output-notebook {output.notebook:q} --output-html {output.html:q}"
        " 2> {log}"
