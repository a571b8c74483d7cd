rule aggregate:
    input:
        metrics=all_run_files("metrics.json"),
        histories=all_run_files("history.csv"),
        predictions=all_run_files("predictions.npz"),
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        comparison="results/comparison.csv",
        tables=expand("results/comparison/{name}", name=COMPARISON_FILES.values()),
        figures=expand("results/comparison/figures/{figure}", figure=COMPARISON_FIGURES.values()),
    params:
        settings=aggregate_settings(),
        output_dir=parent_of("tables"),
    conda:
        ENVIRONMENT
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    shell:
        "python -m mlpstudy aggregate --settings {params.settings:q} --runs {input.metrics}"
        " --dataset {input.dataset} --summary {input.summary}"
        " --output-dir {params.output_dir} --comparison {output.comparison} 2> {log}"
