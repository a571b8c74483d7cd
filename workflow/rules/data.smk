rule prepare_data:
    input:
        data_source(),
    output:
        dataset="results/data/dataset.npz",
        summary="results/data/dataset.json",
    params:
        settings=data_settings(),
    conda:
        ENVIRONMENT
    log:
        "logs/prepare_data/prepare_data.log",
    benchmark:
        "results/benchmarks/prepare_data.tsv"
    shell:
        "python -m mlpstudy prepare-data --settings {params.settings:q}"
        " --dataset {output.dataset} --summary {output.summary} 2> {log}"


rule data_overview:
    input:
        notebook=NOTEBOOKS / "data_overview.ipynb",
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        notebook="results/data/data_overview.ipynb",
        html="results/data/data_overview.html",
        figures=[
            in_report(f"results/data/figures/{figure}.png", f"data/{figure}", "Data", labels={"figure": title})
            for figure, title in DATA_FIGURES.items()
        ],
    params:
        figures_dir=parent_of("figures"),
    conda:
        ENVIRONMENT
    log:
        notebook="logs/data_overview/data_overview.ipynb",
        stderr="logs/data_overview/data_overview.log",
    benchmark:
        "results/benchmarks/data_overview.tsv"
    shell:
        "papermill {input.notebook:q} {log.notebook:q} -k python3 --log-output"
        " -p dataset_path {input.dataset:q} -p summary_path {input.summary:q} -p figures_dir {params.figures_dir:q}"
        " 2> {log.stderr}"
        " && cp {log.notebook:q} {output.notebook:q}"
        " && jupyter nbconvert --to html --stdout {output.notebook:q} > {output.html:q}.partial 2>> {log.stderr}"
        " && mv {output.html:q}.partial {output.html:q}"
