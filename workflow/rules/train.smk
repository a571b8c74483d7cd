# One job per experiment and block of seeds (SEED_BLOCKS): each block is its own rule, whose outputs are every
# file of its seeds' runs, so that each run keeps its own folder and can be a target on its own.
for block in SEED_BLOCKS:

    rule:
        name:
            train_rule_name(block)
        input:
            dataset=rules.prepare_data.output.dataset,
        output:
            **{key: run_files(key, "{experiment}", block) for key in RUN_FILES},
        log:
            study_path(f"logs/train/{{experiment}}/{block_label(block)}.log"),
        benchmark:
            train_benchmark(block)
        priority: largest_first(runs=len(block))
        conda:
            ENVIRONMENT
        threads: 1
        # On a cluster: a generous bound (the default study's longest job took 2.5 minutes here). Here rather than
        # in profiles/slurm, which cannot name these rules: they depend on the config's seeds.
        resources:
            mem_mb=1500,
            runtime=60,
        params:
            settings=step_settings(spec=experiment_spec, seeds=block, engine_version=ENGINE_VERSION),
            files=step_files(with_threads=True),
        shell:
            "python -m mlpstudy train {params.settings:q} {params.files:q} 2> {log}"
