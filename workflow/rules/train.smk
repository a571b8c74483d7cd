rule train:
    input:
        dataset=rules.prepare_data.output.dataset,
    output:
        **run_outputs("experiments"),
    log:
        study_path("logs/train/{experiment}/seed{seed}.log"),
    benchmark:
        study_path("results/benchmarks/train/{experiment}/seed{seed}.tsv")
    priority: largest_first()
    conda:
        ENVIRONMENT
    threads: 1
    resources:
        mem_mb=1500,
    params:
        settings=step_settings(spec=experiment_spec, seed=seed_number, engine_version=ENGINE_VERSION),
        files=step_files(with_threads=True),
    shell:
        "python -m mlpstudy train {params.settings:q} {params.files:q} 2> {log}"
