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
        spec=experiment_spec,
        run_dir=subpath(output.metrics, parent=True),
    shell:
        "python -m mlpstudy train --spec {params.spec:q} --seed {wildcards.seed}"
        " --dataset {input.dataset} --run-dir {params.run_dir} --threads {threads} 2> {log}"
