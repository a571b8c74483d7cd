# The bundle to ship, how its pick holds up on corrupted images, and the model card that hands it over.

# What the deployed object is: the refit summary's description, or without refit the evidence's.
DEPLOYED_DESCRIPTION = rules.summarize_refits.output.deployed if config["refit"] else rules.evidence.output.facts


rule deploy_bundle:
    input:
        unpack(bundle_inputs),
        deployed=DEPLOYED_DESCRIPTION,
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        keras_model=deploy_path("model.keras"),
        tflite_model=deploy_path("model.tflite"),
        bundle=in_report(deploy_path("bundle.json"), "deploy/bundle", "Deploy", labels={"file": "bundle.json"}),
    log:
        study_path("logs/deploy/deploy_bundle.log"),
    benchmark:
        study_path("results/benchmarks/deploy_bundle.tsv")
    conda:
        ENVIRONMENT
    # Every core, so that it runs alone: it measures the deployed model's latency.
    threads: workflow.cores
    params:
        settings=step_settings(
            settings=lambda wildcards: {
                "warning_accuracy": config["warning_accuracy"],
                "deploy_key": None if config["refit"] else "deployed_without_refit",
                "description": EXPERIMENTS[picked()]["description"],
            }
        ),
        files=step_files(),
    shell:
        "python -m mlpstudy deploy-bundle {params.settings:q} {params.files:q} 2> {log}"


rule robustness:
    input:
        models=robustness_models,
        # The deployed object's runs, not the bundle: it runs beside the bundle and the model pages.
        deployed_models=deployed_models,
        dataset=rules.prepare_data.output.dataset,
    output:
        table=in_report(
            study_path("results/robustness/robustness.csv"),
            "deploy/robustness",
            "Deploy",
            labels={"table": "robustness"},
        ),
        figure=in_report(
            study_path("results/robustness/figures/accuracy_under_corruption.png"),
            "deploy/robustness_figure",
            "Deploy",
            labels={"figure": "accuracy under corruption"},
        ),
        examples_figure=in_report(
            study_path("results/robustness/figures/corruption_examples.png"),
            "deploy/corruption_examples",
            "Deploy",
            labels={"figure": "corruption examples"},
        ),
    log:
        study_path("logs/deploy/robustness.log"),
    benchmark:
        study_path("results/benchmarks/robustness.tsv")
    # The longest job once the pick is known: before the model pages, so that the study does not end on it alone.
    priority: 1
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(
            settings=lambda wildcards: {
                "experiments": robustness_experiments(),
                "seeds": FIRST_SEEDS,
                "pick": picked(),
            }
        ),
        files=step_files(with_threads=True),
    shell:
        "python -m mlpstudy robustness {params.settings:q} {params.files:q} 2> {log}"


rule model_card:
    input:
        **({"refits": rules.summarize_refits.output.refits} if config["refit"] else {}),
        bundle=rules.deploy_bundle.output.bundle,
        keras_model=rules.deploy_bundle.output.keras_model,
        tflite_model=rules.deploy_bundle.output.tflite_model,
        summary=rules.prepare_data.output.summary,
        selection=rules.decide.output.selection,
        facts=rules.evidence.output.facts,
        rounds=rules.decide.output.rounds,
        robustness=rules.robustness.output.table,
    output:
        card=in_report(deploy_path("MODEL_CARD.md"), "deploy/model_card", "Deploy", labels={"file": "MODEL_CARD.md"}),
        manifest=deploy_path("MANIFEST"),
    log:
        study_path("logs/deploy/model_card.log"),
    benchmark:
        study_path("results/benchmarks/model_card.tsv")
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(settings=config, command=reproduce_command()),
        files=step_files(),
    shell:
        "python -m mlpstudy model-card {params.settings:q} {params.files:q} 2> {log}"
