rule aggregate:
    input:
        all_metrics(),
    output:
        comparison="results/comparison.csv",
        runs="results/comparison/runs.csv",
        selection="results/comparison/selection.json",
        figures=expand("results/comparison/figures/{figure}", figure=COMPARISON_FIGURES.values()),
    params:
        settings=aggregate_settings(),
        figures_dir=figures_dir,
    conda:
        ENVIRONMENT
    log:
        "logs/aggregate/aggregate.log",
    shell:
        "python -m mlpstudy aggregate --settings {params.settings:q} --runs {input}"
        " --comparison {output.comparison} --runs-table {output.runs} --selection {output.selection}"
        " --figures-dir {params.figures_dir} 2> {log}"
