rule refit:
    input:
        dataset=rules.prepare_data.output.dataset,
        selection_run=run_outputs("experiments")["metrics"],
    output:
        **run_outputs("refit"),
    log:
        study_path("logs/refit/{experiment}/seed{seed}.log"),
    benchmark:
        study_path("results/benchmarks/refit/{experiment}/seed{seed}.tsv")
    priority: largest_first(refit=True)
    conda:
        ENVIRONMENT
    threads: 1
    resources:
        mem_mb=1500,
    params:
        spec=experiment_spec,
        run_dir=subpath(output.metrics, parent=True),
    shell:
        "python -m mlpstudy refit --spec {params.spec:q} --seed {wildcards.seed} --dataset {input.dataset}"
        " --selection-run {input.selection_run} --run-dir {params.run_dir} --threads {threads} 2> {log}"


rule summarize_refits:
    input:
        ceiling_runs=ceiling_refit_runs(),
        pick_runs=pick_refit_runs,
        selection=study_path(f"results/comparison/{COMPARISON_FILES['selection']}"),
        selection_runs=study_path(f"results/comparison/{COMPARISON_FILES['runs']}"),
    output:
        in_report(study_path("results/refit/refit.csv"), "refit", "Recommendation", labels={"table": "refit"}),
    log:
        study_path("logs/refit/summarize_refits.log"),
    conda:
        ENVIRONMENT
    params:
        ceiling=f"--ceiling {config['ceiling']}" if config["ceiling"] else "",
    shell:
        "python -m mlpstudy summarize-refits {params.ceiling} --runs {input.ceiling_runs} {input.pick_runs}"
        " --selection {input.selection} --selection-runs {input.selection_runs} --output {output} 2> {log}"
