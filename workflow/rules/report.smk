rule report:
    input:
        model_reports=expand(study_path("results/experiments/{experiment}/model_report.html"), experiment=EXPERIMENTS),
        model_figures=expand(
            study_path("results/experiments/{experiment}/figures/{figure}.png"), experiment=EXPERIMENTS, figure=MODEL_FIGURES
        ),
        comparison=rules.aggregate.output,
        data_overview=rules.data_overview.output,
        template=REPORT_TEMPLATE,
        stage_timings=stage_timings(),
        refit=rules.summarize_refits.output if config["refit"] else [],
    output:
        html=in_report(study_path("results/report.html"), "report", "Recommendation", labels={"report": "mlpstudy report"}),
    params:
        settings=params_json(config),
        results_dir=subpath(output.html, parent=True),
    conda:
        ENVIRONMENT
    log:
        study_path("logs/report/report.log"),
    shell:
        "python -m mlpstudy report --settings {params.settings:q} --results-dir {params.results_dir:q} --output {output.html} 2> {log}"
