rule model_report:
    input:
        unpack(experiment_runs),
        notebook=NOTEBOOKS / "model_report.ipynb",
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        notebook=study_path("results/experiments/{experiment}/model_report.ipynb"),
        html=in_report(
            study_path("results/experiments/{experiment}/model_report.html"),
            "experiment/model_report",
            "Experiments",
            subcategory="{experiment}",
            labels=experiment_labels("Model report notebook"),
        ),
        figures=[
            in_report(
                study_path(f"results/experiments/{{experiment}}/figures/{figure}.png"),
                f"experiment/{figure}",
                "Experiments",
                subcategory="{experiment}",
                labels=experiment_labels(title),
            )
            for figure, title in MODEL_FIGURES.items()
        ],
    log:
        study_path("logs/model_report/{experiment}.log"),
    benchmark:
        study_path("results/benchmarks/model_report/{experiment}.tsv")
    conda:
        ENVIRONMENT
    params:
        parameters=model_report_parameters,
        # Where papermill writes as it runs, kept when a cell fails (not a log: the console shows failed logs).
        executed=study_path("logs/model_report/{experiment}.ipynb"),
    shell:
        "python -m mlpstudy render-notebook --notebook {input.notebook:q} --parameters {params.parameters:q}"
        " --executed {params.executed:q} --output-notebook {output.notebook:q} --output-html {output.html:q}"
        " 2> {log}"
