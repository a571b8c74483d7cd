rule refit:
    input:
        dataset=rules.prepare_data.output.dataset,
        selection_run=run_file("metrics"),
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
        settings=step_settings(spec=experiment_spec, seed=seed_number, engine_version=ENGINE_VERSION),
        files=step_files(with_threads=True),
    shell:
        "python -m mlpstudy refit {params.settings:q} {params.files:q} 2> {log}"


rule summarize_refits:
    input:
        unpack(refit_summary_inputs),
        dataset=rules.prepare_data.output.dataset,
        selection=rules.decide.output.selection,
    output:
        refits=in_report(study_path("results/refit/refit.csv"), "refit", "Recommendation", labels={"table": "refit"}),
        deployed=study_path("results/refit/deployed.json"),
    log:
        study_path("logs/refit/summarize_refits.log"),
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(ceiling=config["ceiling"], deploy=config["deploy"], deploy_seed=FIRST_SEEDS[0]),
        files=step_files(),
    shell:
        "python -m mlpstudy summarize-refits {params.settings:q} {params.files:q} 2> {log}"
