# A checkpoint: which experiment is refit depends on the choice it makes.
checkpoint aggregate:
    input:
        metrics=all_run_files("metrics.json"),
        histories=all_run_files("history.csv"),
        predictions=all_run_files("predictions.npz"),
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        comparison=in_report(study_path("results/comparison.csv"), "comparison/comparison", "Comparison"),
        tables=[
            comparison_output(study_path(f"results/comparison/{name}"), key) for key, name in COMPARISON_FILES.items()
        ],
        figures=[
            comparison_output(study_path(f"results/comparison/figures/{name}"), key)
            for key, name in COMPARISON_FIGURES.items()
        ],
    log:
        study_path("logs/aggregate/aggregate.log"),
    benchmark:
        study_path("results/benchmarks/aggregate.tsv")
    priority: BEFORE_ANY_RUN
    conda:
        ENVIRONMENT
    params:
        settings=aggregate_settings(),
        output_dir=parent_of("tables"),
    shell:
        "python -m mlpstudy aggregate --settings {params.settings:q} --runs {input.metrics}"
        " --dataset {input.dataset} --summary {input.summary}"
        " --output-dir {params.output_dir} --comparison {output.comparison} 2> {log}"
