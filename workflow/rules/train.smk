rule train:
    input:
        dataset=rules.prepare_data.output.dataset,
    output:
        model="results/experiments/{experiment}/seed{seed}/model.keras",
        history="results/experiments/{experiment}/seed{seed}/history.csv",
        metrics="results/experiments/{experiment}/seed{seed}/metrics.json",
        predictions="results/experiments/{experiment}/seed{seed}/predictions.npz",
    params:
        spec=experiment_spec,
        run_dir=subpath(output.metrics, parent=True),
    threads: 1
    resources:
        mem_mb=1500,
    conda:
        ENVIRONMENT
    log:
        "logs/train/{experiment}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/seed{seed}.tsv"
    shell:
        "python -m mlpstudy train --spec {params.spec:q} --seed {wildcards.seed}"
        " --dataset {input.dataset} --run-dir {params.run_dir} --threads {threads} 2> {log}"
