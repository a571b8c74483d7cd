rule model_report:
    input:
        unpack(experiment_runs),
        notebook=NOTEBOOKS / "model_report.ipynb",
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        **{
            f"{key}_figure": in_report(
                model_figure(key),
                f"experiment/{key}",
                "Experiments",
                subcategory="{experiment}",
                labels=experiment_labels(title),
            )
            for key, title in MODEL_FIGURES.items()
        },
        executed=study_path("results/experiments/{experiment}/model_report.ipynb"),
        html=in_report(
            study_path("results/experiments/{experiment}/model_report.html"),
            "experiment/model_report",
            "Experiments",
            subcategory="{experiment}",
            labels=experiment_labels("Model report notebook"),
        ),
    log:
        study_path("logs/model_report/{experiment}.log"),
    benchmark:
        study_path("results/benchmarks/model_report/{experiment}.tsv")
    conda:
        ENVIRONMENT
    params:
        # Where papermill writes as it runs, kept when a cell fails (not a log: the console shows failed logs).
        settings=step_settings(
            in_progress=lambda wildcards: study_path(f"logs/model_report/{wildcards.experiment}.ipynb"),
            parameters=lambda wildcards: {
                "experiment": wildcards.experiment,
                "label": EXPERIMENTS[wildcards.experiment].get("label", ""),
                "description": EXPERIMENTS[wildcards.experiment]["description"],
            },
        ),
        files=notebook_files,
    shell:
        "python -m mlpstudy render-notebook {params.settings:q} {params.files:q} 2> {log}"
