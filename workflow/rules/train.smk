rule train:
    input:
        dataset=rules.prepare_data.output.dataset,
    output:
        **run_outputs("experiments"),
    params:
        spec=experiment_spec,
        run_dir=subpath(output.metrics, parent=True),
    threads: 1
    priority: largest_first()
    resources:
        mem_mb=1500,
    conda:
        ENVIRONMENT
    log:
        study_path("logs/train/{experiment}/seed{seed}.log"),
    benchmark:
        study_path("results/benchmarks/train/{experiment}/seed{seed}.tsv")
    shell:
        "python -m mlpstudy train --spec {params.spec:q} --seed {wildcards.seed}"
        " --dataset {input.dataset} --run-dir {params.run_dir} --threads {threads} 2> {log}"
